"""Every figure of minicnn.viz renders to a PNG of its documented size, showing its data.

Each test draws a figure, checks it holds the numbers it was given (the plotted lines, the
image data), saves it and checks the file: a PNG of exactly the documented size in pixels,
with a real drawing on it (see :func:`tests.helpers.png.check_png`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minicnn
from minicnn.models import LeNet5
from minicnn.nn.conv import Conv2d
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.viz import (
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_gradient_flow,
    plot_mistakes,
    plot_training_curves,
    record_gradient_flow,
    save_figure,
)
from tests.helpers.png import check_png, figure_pixels

METRICS = [
    {"epoch": 1, "lr": 0.05, "train_loss": 0.9, "train_accuracy": 0.71, "test_loss": 0.3,
     "test_accuracy": 0.91, "images_per_second": 4000.0, "train_seconds": 15.0},
    {"epoch": 2, "lr": 0.03, "train_loss": 0.2, "train_accuracy": 0.94, "test_loss": 0.12,
     "test_accuracy": 0.965, "images_per_second": 4100.0, "train_seconds": 14.6},
    {"epoch": 3, "lr": 0.01, "train_loss": 0.1, "train_accuracy": 0.97, "test_loss": 0.08,
     "test_accuracy": 0.975, "images_per_second": 4050.0, "train_seconds": 14.8},
]


@pytest.fixture(scope="module")
def model():
    minicnn.manual_seed(0)
    return LeNet5()


@pytest.fixture(scope="module")
def digits():
    """32 'images' (N, 1, 28, 28) float32 and labels, random but fixed."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((32, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 32)


def saved(figure, tmp_path, name: str, width: int, height: int) -> np.ndarray:
    assert figure_pixels(figure) == (width, height), "the figure's size is not the documented one"
    return check_png(save_figure(figure, tmp_path / f"{name}.png"), width, height)


def test_training_curves_plot_every_epoch(tmp_path):
    figure = plot_training_curves(METRICS)
    loss_axes, accuracy_axes, lr_axes = figure.axes
    train_loss, test_loss = loss_axes.get_lines()
    np.testing.assert_array_equal(train_loss.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(train_loss.get_ydata(), [0.9, 0.2, 0.1])
    np.testing.assert_array_equal(test_loss.get_ydata(), [0.3, 0.12, 0.08])
    np.testing.assert_allclose(accuracy_axes.get_lines()[1].get_ydata(), [91, 96.5, 97.5])
    np.testing.assert_array_equal(lr_axes.get_lines()[0].get_ydata(), [0.05, 0.03, 0.01])
    saved(figure, tmp_path, "curves", 1200, 400)


def test_training_curves_read_a_run_directory(tmp_path):
    lines = "".join(f"{__import__('json').dumps(record)}\n" for record in METRICS[:1])
    (tmp_path / "metrics.jsonl").write_text(lines)
    figure = plot_training_curves(tmp_path)
    np.testing.assert_array_equal(figure.axes[0].get_lines()[0].get_ydata(), [0.9])
    saved(figure, tmp_path, "one_epoch", 1200, 400)
    with pytest.raises(FileNotFoundError, match="no metrics log"):
        plot_training_curves(tmp_path / "missing")


def test_filters_show_each_kernel_on_one_symmetric_scale(model, tmp_path):
    figure = plot_filters(model)
    weight = model.features[0].weight.data
    images = [axes.get_images()[0] for axes in figure.axes if axes.get_images()]
    assert len(images) == 6, "one tile per first-layer filter"
    for index, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), weight[index, 0])
        assert image.get_clim() == (-np.abs(weight).max(), np.abs(weight).max())
    # 6 filters: ceil(sqrt(6)) = 3 columns, 2 rows: 3.6 x 2.8 inches.
    saved(figure, tmp_path, "filters", 360, 280)


def test_filters_of_a_multi_channel_layer_get_a_row_per_output_channel(tmp_path):
    conv = Conv2d(3, 4, kernel_size=3)
    figure = plot_filters(conv, rgb=False)  # (4, 3, 3, 3): 4 rows of 3
    tiles = [axes for axes in figure.axes if axes.get_images()]
    assert [axes.get_title() for axes in tiles[3:6]] == ["1.0", "1.1", "1.2"]
    np.testing.assert_array_equal(tiles[5].get_images()[0].get_array(), conv.weight.data[1, 2])
    saved(figure, tmp_path, "filters_per_channel", 360, 520)
    conv_4 = Conv2d(4, 2, kernel_size=3)
    assert len([axes for axes in plot_filters(conv_4).axes if axes.get_images()]) == 8, (
        "four input channels: a grey tile per (output, input) pair")


def test_filters_on_rgb_input_are_colour_images_each_scaled_to_unit(tmp_path):
    conv = Conv2d(3, 5, kernel_size=3)
    figure = plot_filters(conv)  # 5 kernels (3, 3, 3): 2 rows of 3 colour tiles
    tiles = [axes for axes in figure.axes if axes.get_images()]
    assert [axes.get_title() for axes in tiles] == ["0", "1", "2", "3", "4"]
    kernel = conv.weight.data[1].astype(np.float64)
    expected = ((kernel - kernel.min()) / (kernel.max() - kernel.min())).transpose(1, 2, 0)
    shown = tiles[1].get_images()[0].get_array()
    assert shown.shape == (3, 3, 3), "height, width, RGB"
    np.testing.assert_allclose(shown, expected, rtol=1e-6, atol=1e-7)
    saved(figure, tmp_path, "filters_rgb", 360, 280)
    with pytest.raises(ValueError, match="rgb=True needs kernels of 3 input channels"):
        plot_filters(Conv2d(1, 2, 3), rgb=True)


def test_feature_maps_show_every_conv_output(model, digits, tmp_path):
    image = digits[0][0]
    figure = plot_feature_maps(model, image)
    shown = [axes.get_images()[0].get_array() for axes in figure.axes if axes.get_images()]
    assert len(shown) == 1 + 6 + 16, "the input, 6 maps of conv1 and 16 of conv2"
    conv1 = model.features[0](image[None])[0]
    expected = (conv1[2] - conv1[2].min()) / (conv1[2].max() - conv1[2].min())
    np.testing.assert_allclose(shown[1 + 2], expected, atol=1e-6)
    # 8 columns + the label column; rows: input, conv1 (6 maps), conv2 (16 maps: 2 rows).
    saved(figure, tmp_path, "feature_maps", round(1.1 * 9 * 100), round((1.2 * 4 + 0.3) * 100))


def test_confusion_matrix_writes_every_count(tmp_path):
    matrix = np.array([[50, 2, 0], [3, 40, 7], [0, 0, 9]])
    figure = plot_confusion_matrix(matrix, class_names=["a", "b", "c"])
    texts = sorted(text.get_text() for text in figure.axes[0].texts)
    assert texts == sorted(["50", "2", "3", "40", "7", "9"]), "each non-zero count is written"
    np.testing.assert_allclose(figure.axes[0].get_images()[0].get_array()[1], [0.06, 0.8, 0.14])
    saved(figure, tmp_path, "confusion", 650, 600)


def test_mistakes_show_the_most_confident_first(tmp_path, digits):
    images, labels = digits
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.ones(10), size=len(labels))
    figure = plot_mistakes(images, labels, probabilities)
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    titles = [axes.get_title() for axes in figure.axes if axes.get_images()]
    assert len(titles) == min(16, len(wrong))
    most = wrong[np.argmax(probabilities[wrong, predictions[wrong]])]
    assert titles[0].startswith(f"{labels[most]} \u2192 {predictions[most]}")
    rows = math.ceil(len(titles) / 8)
    saved(figure, tmp_path, "mistakes", 1200, round((1.7 * rows + 0.4) * 100))


def test_colour_mistakes_are_drawn_in_colour(tmp_path):
    images = np.random.default_rng(0).standard_normal((3, 3, 4, 4))
    labels = np.array([0, 1, 2])
    probabilities = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.0, 0.0, 1.0]])
    figure = plot_mistakes(images, labels, probabilities)
    shown = [axes.get_images()[0].get_array() for axes in figure.axes if axes.get_images()]
    assert len(shown) == 2, "two wrong, the most confident first"
    image = images[0]
    np.testing.assert_allclose(shown[0], ((image - image.min()) / (image.max() - image.min()))
                               .transpose(1, 2, 0), rtol=1e-6)
    saved(figure, tmp_path, "mistakes_rgb", 1200, 210)


def test_gradient_flow_plots_one_bar_per_layer(model, digits, tmp_path):
    records = record_gradient_flow(model, CrossEntropyLoss(), *digits)
    figure = plot_gradient_flow(records)
    magnitude_axes, zero_axes = figure.axes
    zero_bars = [patch.get_height() for patch in zero_axes.patches]
    np.testing.assert_allclose(zero_bars, [100 * r.zero_fraction for r in records])
    heights = [patch.get_height() for patch in magnitude_axes.patches]
    np.testing.assert_allclose(heights[: len(records)], [r.max_abs for r in records])
    np.testing.assert_allclose(heights[len(records) :], [r.mean_abs for r in records])
    # 12 leaf layers: max(6, 0.6 * 12 + 2) = 9.2 inches wide.
    saved(figure, tmp_path, "gradient_flow", 920, 600)
