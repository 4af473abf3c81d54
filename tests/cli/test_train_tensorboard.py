"""``minicnn train --tensorboard``: event files beside the run, holding the run's metrics."""

from __future__ import annotations

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from minicnn.train.run_dir import RunDir


def test_train_with_tensorboard_logs_the_metrics(cli, mnist_dir, tmp_path):
    status, stdout, stderr = cli(["train", "--data-dir", str(mnist_dir), "--out-dir",
                                  str(tmp_path), "--epochs", "2", "--limit-train", "192",
                                  "--limit-test", "64", "--batch-size", "64", "--no-progress",
                                  "--tensorboard"])
    assert status == 0, stderr
    (path,) = tmp_path.iterdir()
    assert f"TensorBoard: tensorboard --logdir {path / 'tensorboard'}" in stdout
    events = EventAccumulator(str(path / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    metrics = RunDir(path).read_metrics()
    points = events.Scalars("test/accuracy")
    assert [point.step for point in points] == [3, 6], "3 steps per epoch, 2 epochs"
    np.testing.assert_allclose([point.value for point in points],
                               [record["test_accuracy"] for record in metrics], rtol=1e-6)
    tags = events.Tags()
    assert "gradients/features.0.weight" in tags["histograms"]
    assert {"filters/features.0", "feature_maps/features.3"} <= set(tags["images"])


def test_train_without_the_option_writes_no_events(cli, mnist_dir, tmp_path):
    status, stdout, stderr = cli(["train", "--data-dir", str(mnist_dir), "--out-dir",
                                  str(tmp_path), "--epochs", "1", "--limit-train", "64",
                                  "--limit-test", "64", "--no-progress"])
    assert status == 0, stderr
    (path,) = tmp_path.iterdir()
    assert not (path / "tensorboard").exists() and "TensorBoard" not in stdout
