"""Faults during training lose nothing: interrupted epochs, non-finite losses, torn files.

In-process tests of :mod:`minicnn.train` on small real MNIST subsets; the command line's
signals (SIGINT, SIGKILL) are tested on real processes in ``tests/cli/test_signals.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from minicnn import random as minicnn_random
from minicnn.models import LeNet5
from minicnn.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.optim import SGD
from minicnn.train.checkpoint import load_checkpoint
from minicnn.train.config import TrainConfig
from minicnn.train.loop import EpochProgress, TrainingInterrupted, train_epoch
from minicnn.train.nonfinite import NonFiniteLossError, locate_nonfinite
from minicnn.train.run_dir import RunDir
from minicnn.train.trainer import Trainer
from tests.helpers.training import assert_same_run, trainer_config


class _StopAfter:
    """``should_stop`` that turns true after ``steps`` calls (one call per finished step)."""

    def __init__(self, steps: int):
        self.remaining = steps

    def __call__(self) -> bool:
        self.remaining -= 1
        return self.remaining <= 0


# --------------------------------------------------------------------------- mid-epoch resume
@pytest.mark.parametrize(("optimizer", "scheduler", "stop_after", "augment"), [
    ("sgd", "cosine", 5, False),  # the defaults, stopped in epoch 1
    ("adam", "onecycle", 13, False),  # a per-step scheduler, stopped in epoch 2 (8 steps each)
    ("sgd", "cosine", 11, True),  # random affine warps, stopped in epoch 2
])
def test_run_interrupted_mid_epoch_resumes_exactly(tmp_path, mnist_dir, optimizer, scheduler,
                                                   stop_after, augment):
    settings = dict(data_dir=str(mnist_dir), optimizer=optimizer, scheduler=scheduler,
                    limit_train=256, limit_test=128, batch_size=32, augment=augment,
                    lr=0.01 if optimizer == "sgd" else 0.002)
    straight = Trainer.new(trainer_config(tmp_path / "straight", **settings))
    straight.fit()

    stopped = Trainer.new(trainer_config(tmp_path / "stopped", **settings))
    with pytest.raises(TrainingInterrupted):
        stopped.fit(should_stop=_StopAfter(stop_after))
    run_path = stopped.run_dir.path
    _, states = load_checkpoint(stopped.run_dir.checkpoint)
    steps_in_epoch = stop_after % 8
    assert states["progress"]["epochs_done"] == stop_after // 8
    assert states["epoch_progress"]["steps"] == steps_in_epoch
    assert states["train_loader"]["batches_done"] == steps_in_epoch
    del stopped
    minicnn_random.manual_seed(999)  # whatever happened in between must not matter

    resumed = Trainer.resume(run_path)
    assert resumed.progress.steps == steps_in_epoch
    resumed.fit()
    assert_same_run(resumed, straight)


def tiny_colour_network() -> Sequential:
    """A CIFAR-shaped network built here, trained through the Trainer like a built-in one
    (initialised from seed 0: a network passed in is the caller's to seed)."""
    minicnn_random.manual_seed(0)
    return Sequential(Conv2d(3, 4, 3, padding=1), ReLU(), MaxPool2d(4), Flatten(),
                      Linear(4 * 8 * 8, 10))


@pytest.mark.parametrize("stop_after", [3, 7])  # epoch 1 step 3; epoch 2 step 2 (5 per epoch)
def test_an_augmented_cifar_run_interrupted_mid_epoch_resumes_bit_for_bit(tmp_path, cifar10_dir,
                                                                          stop_after):
    settings = dict(dataset="cifar10", data_dir=str(cifar10_dir), batch_size=48,
                    limit_train=None, limit_test=None, lr=0.02, model="tiny")
    straight = Trainer.new(trainer_config(tmp_path / "straight", **settings),
                           model=tiny_colour_network())
    assert straight.config.augment, "CIFAR is augmented by default"
    straight.fit()
    stopped = Trainer.new(trainer_config(tmp_path / "stopped", **settings),
                          model=tiny_colour_network())
    with pytest.raises(TrainingInterrupted):
        stopped.fit(should_stop=_StopAfter(stop_after))
    run_path = stopped.run_dir.path
    del stopped
    minicnn_random.manual_seed(4321)  # whatever happened in between must not matter

    resumed = Trainer.resume(run_path, model=tiny_colour_network())
    assert resumed.progress.steps == stop_after % 5
    resumed.fit()
    assert_same_run(resumed, straight)
    for key, value in straight.model.state_dict().items():
        assert resumed.model.state_dict()[key].tobytes() == value.tobytes(), key

    # And the augmentation did something: without it the same run ends elsewhere.
    plain = Trainer.new(trainer_config(tmp_path / "plain", augment=False, **settings),
                        model=tiny_colour_network())
    plain.fit()
    assert not np.array_equal(plain.model.state_dict()["4.weight"],
                              straight.model.state_dict()["4.weight"])


def test_checkpoint_every_writes_mid_epoch_checkpoints_that_resume_exactly(tmp_path,
                                                                             mnist_dir):
    settings = dict(data_dir=str(mnist_dir), limit_train=256, limit_test=64, batch_size=32,
                    epochs=1, lr=0.01)
    straight = Trainer.new(trainer_config(tmp_path / "straight", **settings))
    straight.fit()

    run = Trainer.new(trainer_config(tmp_path / "every", checkpoint_every=3, **settings))
    checkpoint_steps = []
    saved = {}

    def on_step(step, *_):
        # Called before the periodic save of the same step: this sees the previous one (at
        # first the one every new run writes before its first step).
        states = load_checkpoint(run.run_dir.checkpoint)[1]
        checkpoint_steps.append(states.get("epoch_progress", {"steps": 0})["steps"])
        saved.setdefault(checkpoint_steps[-1], run.run_dir.checkpoint.read_bytes())

    run.fit(on_step=on_step)
    # Written after steps 3 and 6 of 8 (not after 8: the epoch's own checkpoint follows).
    assert sorted(set(checkpoint_steps)) == [0, 3, 6]
    _, final = load_checkpoint(run.run_dir.checkpoint)
    assert "epoch_progress" not in final and final["progress"]["epochs_done"] == 1

    # A crash after step 7 would have left the checkpoint of step 6: resume from it.
    run.run_dir.checkpoint.write_bytes(saved[6])
    resumed = Trainer.resume(run.run_dir.path)
    assert resumed.progress.steps == 6 and resumed.epochs_done == 0
    resumed.fit()
    assert_same_run(resumed, straight)


def test_a_stop_on_an_epochs_last_step_finishes_that_epoch(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), limit_train=64,
                                         limit_test=64, batch_size=32, epochs=2))
    # The stop request arrives during the last step of epoch 1 (step 1 of 0-1): the epoch
    # is evaluated and checkpointed, then the run stops.
    requested = []

    def on_step(step, *_):
        if step == 1:
            requested.append(True)

    with pytest.raises(TrainingInterrupted, match="stopped after epoch 1"):
        trainer.fit(on_step=on_step, should_stop=lambda: bool(requested))
    _, states = load_checkpoint(trainer.run_dir.checkpoint)
    assert states["progress"]["epochs_done"] == 1 and "epoch_progress" not in states
    assert len(trainer.run_dir.read_metrics()) == 1
    resumed = Trainer.resume(trainer.run_dir.path)
    assert [report.epoch for report in resumed.fit()] == [2]


# --------------------------------------------------------------------------- non-finite losses
def _blow_up_first_conv(model) -> None:
    # float32 overflows: 25 products of 1e37 with pixels ~1 exceed 3.4e38.
    model.features[0].weight.data[...] = 1e37


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_locate_nonfinite_names_the_batch_a_parameter_or_the_first_layer():
    minicnn_random.manual_seed(0)
    model, loss_fn = LeNet5(), CrossEntropyLoss()
    images = 1 + np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    labels = np.arange(4)
    bad_images = images.copy()
    bad_images[1, 0, 3, 3] = np.nan
    assert locate_nonfinite(model, loss_fn, bad_images, labels).startswith(
        "the input batch itself (1 NaN/Inf values)")

    model.classifier[3].weight.data[0, 0] = np.inf
    assert locate_nonfinite(model, loss_fn, images, labels).startswith(
        "parameter classifier.3.weight, which holds 1 NaN/Inf values")
    model.classifier[3].weight.data[0, 0] = 0

    _blow_up_first_conv(model)
    where = locate_nonfinite(model, loss_fn, images, labels)
    assert where == ("the output of features.0 Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), "
                     "padding=(2, 2)) (its input was finite)")
    # The hooks are gone again, so Sequential fuses its layers as before.
    assert all(not module._forward_hooks for module in model.modules())


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_nonfinite_loss_stops_the_run_naming_epoch_step_and_layer(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), limit_train=128,
                                         limit_test=64, batch_size=32, epochs=2))
    trainer.run_epoch()
    checkpoint_bytes = trainer.run_dir.checkpoint.read_bytes()
    metrics_before = trainer.run_dir.read_metrics()
    _blow_up_first_conv(trainer.model)
    with pytest.raises(NonFiniteLossError, match=(
            r"^epoch 2: the loss is nan at step 0 \(batch 1 of the epoch\); NaN/Inf first "
            r"appeared in the output of features\.0 Conv2d\(1, 6, ")):
        trainer.run_epoch()
    # Nothing was written: the last good checkpoint is the one of epoch 1.
    assert trainer.run_dir.checkpoint.read_bytes() == checkpoint_bytes
    assert trainer.run_dir.read_metrics() == metrics_before


def _batches(nan_batch: int | None):
    rng = np.random.default_rng(0)
    batches = []
    for index in range(3):
        images = rng.standard_normal((4, 1, 28, 28)).astype(np.float32)
        if index == nan_batch:
            images[0, 0, 0, 0] = np.nan
        batches.append((images, rng.integers(0, 10, 4)))
    return batches


def test_skip_nonfinite_skips_the_batch_and_counts_it():
    minicnn_random.manual_seed(0)
    model = LeNet5()
    optimizer = SGD(list(model.parameters()), lr=0.01)
    progress = EpochProgress()
    with pytest.warns(RuntimeWarning, match="skipped step 1: the loss is nan"):
        result = train_epoch(model, _batches(nan_batch=1), CrossEntropyLoss(), optimizer,
                             progress=progress, skip_nonfinite=True)
    assert progress.skipped == 1 and progress.steps == 3
    assert result.images == 8, "the skipped batch does not count in the epoch's metrics"
    assert np.isfinite(result.loss)
    assert all(np.isfinite(param.data).all() for param in model.parameters())

    # The same run without the NaN batch's update: equal to training on batches 0 and 2 only.
    minicnn_random.manual_seed(0)
    reference = LeNet5()
    batches = _batches(nan_batch=None)
    train_epoch(reference, [batches[0], batches[2]], CrossEntropyLoss(),
                SGD(list(reference.parameters()), lr=0.01))
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_array_equal(ours.data, theirs.data, err_msg=name)


def test_without_skipping_a_nan_batch_raises_before_changing_anything():
    minicnn_random.manual_seed(0)
    model = LeNet5()
    before = {key: value.copy() for key, value in model.state_dict().items()}
    optimizer = SGD(list(model.parameters()), lr=0.01)
    with pytest.raises(NonFiniteLossError, match=r"at step 0 .* the input batch itself"):
        train_epoch(model, _batches(nan_batch=0), CrossEntropyLoss(), optimizer)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_an_epoch_of_nothing_but_nonfinite_batches_says_so():
    model = LeNet5()
    batches = _batches(nan_batch=0)[:1]
    with (pytest.warns(RuntimeWarning),
          pytest.raises(NonFiniteLossError, match="all 1 batches of the epoch had a non-finite")):
        train_epoch(model, batches, CrossEntropyLoss(), SGD(list(model.parameters()), lr=0.1),
                    skip_nonfinite=True)


def test_skip_nonfinite_run_records_skipped_batches(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), limit_train=64,
                                         limit_test=64, epochs=1, skip_nonfinite=True))
    trainer.fit()
    assert trainer.run_dir.read_metrics()[0]["skipped_batches"] == 0
    resumed = Trainer.resume(trainer.run_dir.path, skip_nonfinite=False)
    assert resumed.config.skip_nonfinite is False
    assert TrainConfig.load(trainer.run_dir.config).skip_nonfinite is False


# --------------------------------------------------------------------------- torn files
def test_a_metrics_line_cut_short_by_a_crash_is_dropped(tmp_path):
    run_dir = RunDir(tmp_path)
    run_dir.append_metrics({"epoch": 1, "test_accuracy": 0.5})
    with run_dir.metrics.open("a") as log:
        log.write('{"epoch": 2, "test_acc')  # killed mid-write
    assert run_dir.read_metrics() == [{"epoch": 1, "test_accuracy": 0.5}]
    run_dir.truncate_metrics(1)
    assert run_dir.metrics.read_text() == '{"epoch": 1, "test_accuracy": 0.5}\n'


def test_a_damaged_config_is_named(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"model": "lenet5", "epo')
    with pytest.raises(ValueError, match=r"config.json: not a readable run config \("):
        TrainConfig.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a run config"):
        TrainConfig.load(path)


def test_a_new_run_is_resumable_before_its_first_step(tmp_path, mnist_dir):
    settings = dict(data_dir=str(mnist_dir), limit_train=64, limit_test=64, epochs=1)
    straight = Trainer.new(trainer_config(tmp_path / "straight", **settings))
    straight.fit()
    started = Trainer.new(trainer_config(tmp_path / "started", **settings))
    _, states = load_checkpoint(started.run_dir.checkpoint)
    assert states["progress"] == {"epochs_done": 0, "best_accuracy": -1.0}
    resumed = Trainer.resume(started.run_dir.path)
    resumed.fit()
    assert_same_run(resumed, straight)


def test_resume_removes_temporary_files_left_by_a_killed_write(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), limit_train=64,
                                         limit_test=64, epochs=2))
    trainer.run_epoch()
    leftover = trainer.run_dir.path / ".checkpoint.safetensors.abc123.tmp"
    leftover.write_bytes(b"half a checkpoint")
    Trainer.resume(trainer.run_dir.path)
    assert not leftover.exists()
