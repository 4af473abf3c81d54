"""The most confidently wrong predictions: where a network is sure and mistaken."""

from __future__ import annotations

import math

import numpy as np

from minicnn.functional.activation import softmax
from minicnn.nn.module import Module
from minicnn.viz._figure import new_figure
from minicnn.viz.grid import scale_to_unit

__all__ = ["confident_mistakes", "plot_mistakes", "predict_probabilities"]


def predict_probabilities(model: Module, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities ``softmax(model(images))``, ``(N, classes)``, in eval mode.

    Batches of ``batch_size`` keep the activations' memory bounded; the model's training
    mode is restored afterwards.
    """
    images = np.asarray(images)
    was_training = model.training
    model.eval()
    try:
        parts = [softmax(model(images[start : start + batch_size]), dim=1)
                 for start in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        raise ValueError("predict_probabilities: no images given")
    return np.concatenate(parts)


def confident_mistakes(probabilities: np.ndarray, targets: np.ndarray,
                       count: int = 16) -> np.ndarray:
    """Indices of up to ``count`` wrong predictions, the most confident first.

    A prediction is wrong when its arg-max differs from the target; its confidence is the
    probability of the predicted class. Ties keep the dataset's order (a stable sort).
    """
    probabilities = np.asarray(probabilities)
    targets = np.asarray(targets)
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != targets)
    confidence = probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def plot_mistakes(images: np.ndarray, targets: np.ndarray, probabilities: np.ndarray,
                  count: int = 16, columns: int = 8):
    """The ``count`` most confident mistakes, titled ``true -> predicted (confidence)``.

    Args:
        images: ``(N, 1, H, W)`` or ``(N, H, W)``, as fed to the network (normalised is fine:
            each tile is drawn on its own grey scale), or ``(N, 3, H, W)`` RGB (each tile
            scaled to [0, 1] by its own minimum and maximum, in colour).
        targets: ``(N,)`` true classes.
        probabilities: ``(N, classes)`` from :func:`predict_probabilities`.

    Returns:
        a Figure of ``1.5 * columns x 1.7 * rows + 0.4`` inches with
        ``rows = max(1, ceil(shown / columns))``; with no mistakes, one row saying so.

    Many of LeNet-5's confident mistakes are digits a person would hesitate over too (a 4
    closed like a 9, a 7 with a bar read as a 2); a few are mislabelled test images.
    """
    images = np.asarray(images)
    colour = images.ndim == 4 and images.shape[1] == 3
    if images.ndim == 4 and not colour:
        images = images[:, 0]
    indices = confident_mistakes(probabilities, targets, count)
    rows = max(1, math.ceil(len(indices) / columns))
    figure = new_figure(1.5 * columns, 1.7 * rows + 0.4)
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes in grid.ravel():
        axes.set_axis_off()
    predictions = np.asarray(probabilities).argmax(axis=1)
    for slot, index in enumerate(indices):
        axes = grid.ravel()[slot]
        if colour:
            axes.imshow(scale_to_unit(images[index : index + 1])[0].transpose(1, 2, 0))
        else:
            axes.imshow(images[index], cmap="gray_r")
        confidence = probabilities[index, predictions[index]]
        axes.set_title(f"{targets[index]} \u2192 {predictions[index]} ({100 * confidence:.0f}%)",
                       fontsize=9)
    wrong = int(np.count_nonzero(predictions != np.asarray(targets)))
    if wrong == 0:
        grid[0, 0].text(0, 0.5, "no mistakes", fontsize=12, transform=grid[0, 0].transAxes)
    figure.suptitle(f"most confident mistakes: {len(indices)} of {wrong} wrong "
                    f"(true \u2192 predicted)", fontsize=10)
    return figure
