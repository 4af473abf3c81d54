"""TensorBoardLogger: the event files, read back with TensorBoard's own reader, hold what ran.

One short real run (LeNet-5, 256 MNIST images, batches of 32, two epochs) logs through the
Trainer's callbacks; TensorBoard's ``EventAccumulator`` reads the folder back and every
scalar, histogram and image is compared with the run's own numbers.
"""

from __future__ import annotations

import io
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from minicnn.data.dataset import fetch_batch
from minicnn.train.config import TrainConfig
from minicnn.train.tensorboard import SummaryWriter, TensorBoardLogger
from minicnn.train.trainer import Trainer
from minicnn.viz import capture_feature_maps, tile_images

STEPS_PER_EPOCH = 8  # 256 images in batches of 32
LOG_EVERY = 3


def read_events(log_dir) -> EventAccumulator:
    # size_guidance 0: keep every event (the default samples long runs).
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "histograms": 0,
                                                           "images": 0, "tensors": 0})
    events.Reload()
    return events


def decoded(image_event) -> np.ndarray:
    with Image.open(io.BytesIO(image_event.encoded_image_string)) as image:
        return np.asarray(image.convert("L"))


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory, mnist_dir):
    """(trainer, per-step (step, loss, accuracy) seen by the callback, event accumulator)."""
    config = TrainConfig(epochs=2, batch_size=32, optimizer="adam", lr=0.004, weight_decay=0.0,
                         scheduler="none", limit_train=256, limit_test=100,
                         data_dir=str(mnist_dir), out_dir=str(tmp_path_factory.mktemp("runs")))
    trainer = Trainer.new(config)
    steps = []
    with TensorBoardLogger.for_trainer(trainer, log_every=LOG_EVERY) as logger:
        def on_step(step, loss, accuracy, batch_size):
            steps.append((trainer.epochs_done * STEPS_PER_EPOCH + step + 1, loss, accuracy))
            logger.on_step(step, loss, accuracy, batch_size)

        trainer.fit(on_step=on_step, on_epoch=logger.on_epoch)
    return trainer, steps, read_events(trainer.run_dir.path / "tensorboard")


def scalar_points(events, tag) -> list[tuple[int, float]]:
    return [(event.step, event.value) for event in events.Scalars(tag)]


def test_epoch_scalars_equal_the_metrics_log(logged_run):
    trainer, _, events = logged_run
    metrics = trainer.run_dir.read_metrics()
    for tag, key in [("train/loss", "train_loss"), ("train/accuracy", "train_accuracy"),
                     ("test/loss", "test_loss"), ("test/accuracy", "test_accuracy"),
                     ("lr", "lr"), ("images_per_second", "images_per_second")]:
        points = scalar_points(events, tag)
        assert [step for step, _ in points] == [8, 16], f"{tag}: one point per epoch's end"
        np.testing.assert_allclose([value for _, value in points],
                                   [record[key] for record in metrics], rtol=1e-6,
                                   err_msg=f"{tag} differs from metrics.jsonl's {key}")


def test_batch_scalars_every_log_every_steps_and_at_each_epochs_end(logged_run):
    _, steps, events = logged_run
    expected_steps = [3, 6, 8, 11, 14, 16]
    by_step = {step: (loss, accuracy) for step, loss, accuracy in steps}
    loss_points = scalar_points(events, "batch/loss")
    assert [step for step, _ in loss_points] == expected_steps
    np.testing.assert_allclose([value for _, value in loss_points],
                               [by_step[step][0] for step in expected_steps], rtol=1e-6)
    np.testing.assert_allclose([value for _, value in scalar_points(events, "batch/accuracy")],
                               [by_step[step][1] for step in expected_steps], rtol=1e-6)
    assert all(value == pytest.approx(0.004) for _, value in scalar_points(events, "batch/lr"))
    assert all(value > 0 for _, value in scalar_points(events, "batch/images_per_sec"))


def test_histograms_of_every_parameter_and_gradient(logged_run):
    trainer, _, events = logged_run
    tags = set(events.Tags()["histograms"])
    for name, parameter in trainer.model.named_parameters():
        assert {f"parameters/{name}", f"gradients/{name}"} <= tags, name
        for tag, values in [(f"parameters/{name}", parameter.data),
                            (f"gradients/{name}", parameter.grad)]:
            last = events.Histograms(tag)[-1]
            assert last.step == 16
            histogram = last.histogram_value
            assert histogram.num == values.size, tag
            np.testing.assert_allclose([histogram.min, histogram.max, histogram.sum],
                                       [values.min(), values.max(), values.sum()],
                                       rtol=1e-5, atol=1e-6, err_msg=tag)


def test_images_are_the_filters_feature_maps_and_mistakes(logged_run):
    trainer, _, events = logged_run
    weight = trainer.model.features[0].weight.data
    filters = decoded(events.Images("filters/features.0")[-1])
    expected = tile_images(weight.reshape(-1, 5, 5), columns=6, zoom=8)
    assert filters.shape == expected.shape == (42, 247)
    np.testing.assert_allclose(filters, expected * 255, atol=1.0)

    test_set = trainer.test_loader.dataset
    maps = capture_feature_maps(trainer.model, fetch_batch(test_set, np.array([0]))[0][0])
    for name, output in maps.items():
        image = decoded(events.Images(f"feature_maps/{name}")[-1])
        np.testing.assert_allclose(image, tile_images(output, zoom=4) * 255, atol=1.0,
                                   err_msg=name)

    metrics = trainer.run_dir.read_metrics()
    wrong = round((1 - metrics[-1]["test_accuracy"]) * len(test_set))
    assert wrong > 0, "100 test images after 256 training images: some are wrong"
    mistakes = decoded(events.Images("mistakes")[-1])
    rows = -(-min(wrong, 16) // 8)
    assert mistakes.shape == (rows * 57 + 1, min(wrong, 8) * 57 + 1)
    text = events.Tensors("mistakes/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert text.count("\u2192") == min(wrong, 16) + 1, "one 'true -> predicted' per mistake"


def test_resumed_run_drops_points_of_the_interrupted_epoch(logged_run):
    trainer, _, _ = logged_run
    log_dir = trainer.run_dir.path / "tensorboard"
    # An epoch that was interrupted after logging a point at step 20 (the checkpoint is at 16).
    with SummaryWriter(log_dir) as stale:
        stale.add_scalar("test/accuracy", -1.0, 20)
    resumed = Trainer.resume(trainer.run_dir.path, epochs=3)
    with TensorBoardLogger.for_trainer(resumed, log_every=LOG_EVERY) as logger:
        resumed.fit(on_step=logger.on_step, on_epoch=logger.on_epoch)
    points = scalar_points(read_events(log_dir), "test/accuracy")
    assert [step for step, _ in points] == [8, 16, 24]
    np.testing.assert_allclose([value for _, value in points],
                               [r["test_accuracy"] for r in resumed.run_dir.read_metrics()],
                               rtol=1e-6)


def test_writer_does_not_import_pytorch(tmp_path):
    code = ("import sys; from minicnn.train.tensorboard import SummaryWriter; "
            f"SummaryWriter({str(tmp_path)!r}).close(); "
            "assert 'torch' not in sys.modules, 'tensorboardX imported torch'; "
            "import torch; assert torch.zeros(1).shape == (1,)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_run_resumed_mid_epoch_keeps_the_points_before_its_checkpoint(tmp_path, mnist_dir,
                                                                     monkeypatch):
    import tensorboardX.event_file_writer

    from minicnn.train.loop import TrainingInterrupted

    # An event file is named by the whole second its writer started in. Make every writer
    # start in the same second, as on a fast machine, where a resumed writer's file used to
    # take the interrupted one's name and erase it.
    clock = iter(range(10**6))
    monkeypatch.setattr(tensorboardX.event_file_writer, "time", types.SimpleNamespace(
        time=lambda: 1_800_000_000 + next(clock) * 1e-6))

    config = TrainConfig(epochs=1, batch_size=32, scheduler="none", limit_train=256,
                         limit_test=64, data_dir=str(mnist_dir), out_dir=str(tmp_path))
    trainer = Trainer.new(config)
    log_dir = trainer.run_dir.path / "tensorboard"
    steps = []
    with TensorBoardLogger.for_trainer(trainer, log_every=LOG_EVERY) as logger, \
            pytest.raises(TrainingInterrupted):
        trainer.fit(on_step=logger.on_step, should_stop=lambda: steps.append(1) or len(steps) == 5)
    # Logged after the checkpoint of step 5 by a process that then died.
    with SummaryWriter(log_dir) as stale:
        stale.add_scalar("batch/loss", -1.0, 7)
    resumed = Trainer.resume(trainer.run_dir.path)
    assert resumed.progress.steps == 5
    with TensorBoardLogger.for_trainer(resumed, log_every=LOG_EVERY) as logger:
        resumed.fit(on_step=logger.on_step, on_epoch=logger.on_epoch)
    points = scalar_points(read_events(log_dir), "batch/loss")
    assert [step for step, _ in points] == [3, 6, 8]
    assert all(value >= 0 for _, value in points)


def test_a_colour_run_logs_colour_filters_and_mistakes(tmp_path, cifar10_dir):
    config = TrainConfig(dataset="cifar10", model="seednet", epochs=1, batch_size=40,
                         data_dir=str(cifar10_dir), out_dir=str(tmp_path))
    trainer = Trainer.new(config)
    reports = []
    with TensorBoardLogger.for_trainer(trainer) as logger:
        def on_epoch(report):
            reports.append(report)
            logger.on_epoch(report)

        trainer.fit(on_step=logger.on_step, on_epoch=on_epoch)
    events = read_events(trainer.run_dir.path / "tensorboard")

    def rgb(tag) -> np.ndarray:
        (event,) = events.Images(tag)
        with Image.open(io.BytesIO(event.encoded_image_string)) as image:
            assert image.mode == "RGB", f"{tag}: a colour image"
            return np.asarray(image) / 255

    expected_filters = tile_images(trainer.model.features[0].weight.data, zoom=8)
    np.testing.assert_allclose(rgb("filters/features.0"), expected_filters, atol=1 / 255)
    test = reports[0].test
    wrong = np.flatnonzero(test.predictions != test.targets)[:16]
    expected_mistakes = tile_images(fetch_batch(trainer.test_loader.dataset, wrong)[0],
                                    columns=8, zoom=2)
    np.testing.assert_allclose(rgb("mistakes"), expected_mistakes, atol=1 / 255)
