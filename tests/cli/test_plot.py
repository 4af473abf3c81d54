"""``minicnn plot RUN_DIR``: six PNG figures of the documented sizes, from a real run."""

from __future__ import annotations

import shutil

import pytest

from minicnn.cli.plot import FIGURES
from tests.helpers.png import check_png

# (width, height) in pixels of each figure for a LeNet-5 run (see each plot_* docstring):
# 6 first-layer filters in 3 columns; feature maps of 6 + 16 channels, 8 a row; 12 leaf
# layers in the gradient flow; 16 mistakes in two rows of 8.
SIZES = {
    "curves": (1200, 400),
    "filters": (360, 280),
    "feature_maps": (990, 510),
    "confusion": (650, 600),
    "mistakes": (1200, 380),
    "gradient_flow": (920, 600),
}


def test_writes_every_figure_into_the_run_directory(cli, trained_run, mnist_dir, tmp_path):
    run_dir = shutil.copytree(trained_run.path, tmp_path / "run")
    status, stdout, stderr = cli(["plot", str(run_dir), "--data-dir", str(mnist_dir),
                                  "--limit-test", "500"])
    assert status == 0, stderr
    assert set(SIZES) == set(FIGURES)
    assert f"weights: {run_dir / 'best.safetensors'}; 500 test images" in stdout
    for name, (width, height) in SIZES.items():
        assert f"wrote {run_dir / f'{name}.png'}" in stdout
        check_png(run_dir / f"{name}.png", width, height)


def test_out_dir_and_image_option(cli, trained_run, mnist_dir, tmp_path):
    status, stdout, stderr = cli(["plot", str(trained_run.path), "--data-dir", str(mnist_dir),
                                  "--limit-test", "100", "--image", "7", "--batch-size", "8",
                                  "--out-dir", str(tmp_path / "figures")])
    assert status == 0, stderr
    assert f"wrote {tmp_path / 'figures' / 'curves.png'}" in stdout
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == sorted(
        f"{name}.png" for name in FIGURES)
    check_png(tmp_path / "figures" / "feature_maps.png", *SIZES["feature_maps"])


def test_not_a_run_directory(cli, tmp_path):
    status, stdout, stderr = cli(["plot", str(tmp_path)])
    assert status == 1 and stdout == ""
    assert "is not a run directory (no config.json)" in stderr


def test_run_without_weights(cli, trained_run, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("config.json", "metrics.jsonl"):
        shutil.copy(trained_run.path / name, run_dir / name)
    status, _, stderr = cli(["plot", str(run_dir)])
    assert status == 1 and "no best.safetensors, last.safetensors or checkpoint" in stderr


@pytest.mark.parametrize("argv, message", [
    (["--image", "100"], "--image 100 is past the 100 test images"),
    (["--image", "-1"], "must be zero or a positive integer"),
])
def test_image_index_checked(cli, trained_run, mnist_dir, argv, message):
    status, _, stderr = cli(["plot", str(trained_run.path), "--data-dir", str(mnist_dir),
                             "--limit-test", "100", *argv])
    assert status == 2 and message in stderr


def test_a_cifar_run_is_drawn_in_colour(cli, cifar_run, tmp_path):
    # The run's own --data-dir (in its config) is used; 12 RGB filters in 4 columns.
    status, stdout, stderr = cli(["plot", str(cifar_run.path), "--out-dir", str(tmp_path)])
    assert status == 0, stderr
    assert "40 test images" in stdout
    for name in FIGURES:
        assert (tmp_path / f"{name}.png").is_file(), name
    check_png(tmp_path / "filters.png", 480, 400)
