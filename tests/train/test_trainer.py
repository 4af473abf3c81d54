"""minicnn.train.trainer: runs on real MNIST subsets, their run directories, exact resumption.

The runs are small (a few hundred to a thousand images) because the machine is shared; they
are real runs all the same, through the same code as ``minicnn train``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from minicnn import random as minicnn_random
from minicnn.models import LeNet5
from minicnn.optim import lr_scheduler
from minicnn.train.checkpoint import load_checkpoint, load_weights, read_metadata
from minicnn.train.config import OPTIMIZERS, SCHEDULERS, TrainConfig
from minicnn.train.loading import load_trained_model
from minicnn.train.loop import evaluate, train_epoch
from minicnn.train.run_dir import RunDir
from minicnn.train.trainer import Trainer
from tests.helpers.training import assert_same_run, trainer_config


# --------------------------------------------------------------------------- resumption
@pytest.mark.parametrize(("optimizer", "scheduler"), [
    ("sgd", "cosine"),  # the defaults
    ("adam", "onecycle"),  # a scheduler stepped every batch
    ("rmsprop", "plateau"),  # a scheduler driven by the test loss
])
def test_stopped_and_resumed_run_ends_exactly_like_a_straight_run(tmp_path, mnist_dir,
                                                                  optimizer, scheduler):
    settings = dict(data_dir=str(mnist_dir), optimizer=optimizer, scheduler=scheduler,
                    lr=0.01 if optimizer == "sgd" else 0.002)
    straight = Trainer.new(trainer_config(tmp_path / "straight", **settings))
    straight.fit()

    stopped = Trainer.new(trainer_config(tmp_path / "stopped", **settings))
    stopped.run_epoch()
    run_path = stopped.run_dir.path
    del stopped
    # Whatever the process did in between must not matter.
    minicnn_random.manual_seed(12345)
    minicnn_random.default_generator().standard_normal(100)

    resumed = Trainer.resume(run_path)
    assert resumed.epochs_done == 1
    reports = resumed.fit()
    assert [report.epoch for report in reports] == [2]
    assert_same_run(resumed, straight)
    # The files agree too: the resumed run's checkpoint is the straight run's, byte for byte
    # in its weights.
    for name in ("last_weights", "checkpoint"):
        ours = load_weights(getattr(resumed.run_dir, name))
        theirs = load_weights(getattr(straight.run_dir, name))
        for key, value in theirs.items():
            assert np.array_equal(ours[key], value), f"{name}: {key}"


def test_resume_drops_metrics_written_after_the_last_checkpoint(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=2,
                                         limit_train=200, limit_test=100))
    trainer.run_epoch()
    # A crash between the metrics line and the checkpoint of epoch 2 leaves one line too many.
    trainer.run_dir.append_metrics({"epoch": 2, "test_accuracy": 0.0})
    resumed = Trainer.resume(trainer.run_dir.path)
    assert [record["epoch"] for record in resumed.run_dir.read_metrics()] == [1]
    resumed.fit()
    assert [record["epoch"] for record in resumed.run_dir.read_metrics()] == [1, 2]


def test_resume_can_extend_the_number_of_epochs(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=1,
                                         limit_train=200, limit_test=100, scheduler="step"))
    trainer.fit()
    resumed = Trainer.resume(trainer.run_dir.path, epochs=2)
    assert resumed.config.epochs == 2
    assert len(resumed.fit()) == 1
    assert TrainConfig.load(resumed.run_dir.config).epochs == 2
    assert [record["epoch"] for record in resumed.run_dir.read_metrics()] == [1, 2]


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_schedules_planned_for_the_run_length_cannot_be_stretched(tmp_path, mnist_dir,
                                                                   scheduler):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=1,
                                         limit_train=64, limit_test=64, scheduler=scheduler))
    trainer.fit()
    with pytest.raises(ValueError, match=f"the {scheduler} schedule of this run was planned "
                                         "for 1 epochs and cannot be stretched to 3"):
        Trainer.resume(trainer.run_dir.path, epochs=3)
    assert TrainConfig.load(trainer.run_dir.config).epochs == 1


def test_a_finished_run_resumes_to_nothing(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=1,
                                         limit_train=100, limit_test=100))
    trainer.fit()
    assert Trainer.resume(trainer.run_dir.path).fit() == []


# --------------------------------------------------------------------------- every option
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_optimizer_and_scheduler_trains_one_tiny_epoch(tmp_path, mnist_dir, optimizer,
                                                             scheduler):
    lr = 0.01 if optimizer == "sgd" else 0.001
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=3,
                                         limit_train=96,
                                         limit_test=64, batch_size=32, optimizer=optimizer,
                                         scheduler=scheduler, lr=lr))
    assert type(trainer.optimizer).__name__.lower() == optimizer
    before = {key: value.copy() for key, value in trainer.model.state_dict().items()}
    report = trainer.run_epoch()
    # The lr a record shows is the one the epoch started with: onecycle starts at max_lr / 25.
    assert report.epoch == 1
    assert report.lr == pytest.approx(lr / 25 if scheduler == "onecycle" else lr, rel=1e-12)
    assert report.train.images == 96 and len(report.test.targets) == 64
    assert np.isfinite(report.train.loss) and np.isfinite(report.test.loss)
    assert any(not np.array_equal(before[key], value)
               for key, value in trainer.model.state_dict().items()), "no parameter moved"
    expected_scheduler = {
        "none": type(None), "step": lr_scheduler.StepLR, "multistep": lr_scheduler.MultiStepLR,
        "exponential": lr_scheduler.ExponentialLR, "cosine": lr_scheduler.CosineAnnealingLR,
        "onecycle": lr_scheduler.OneCycleLR, "plateau": lr_scheduler.ReduceLROnPlateau,
    }[scheduler]
    assert type(trainer.scheduler) is expected_scheduler
    # The checkpoint holds what a resumption needs, whatever the scheduler.
    _, states = load_checkpoint(trainer.run_dir.checkpoint)
    assert ("scheduler" in states) == (scheduler != "none")


def test_schedulers_change_the_learning_rate_as_configured(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=4,
                                         limit_train=64,
                                         limit_test=64, batch_size=64, scheduler="cosine", lr=0.04))
    lrs = [report.lr for report in trainer.fit()]
    # Cosine over 4 epochs: 0.04 * (1 + cos(pi * epoch / 4)) / 2.
    np.testing.assert_allclose(lrs, [0.04 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)],
                               rtol=1e-12)


def test_float64_runs_end_to_end(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=1,
                                         limit_train=256,
                                         limit_test=128, dtype="float64", scheduler="exponential"))
    images, _ = next(iter(trainer.train_loader))
    assert images.dtype == np.float64
    trainer.fit()
    assert all(param.dtype == np.float64 for param in trainer.model.parameters())
    weights = load_weights(trainer.run_dir.best_weights)
    assert all(value.dtype == np.float64 for value in weights.values())
    resumed = Trainer.resume(trainer.run_dir.path, epochs=2)
    assert all(param.dtype == np.float64 for param in resumed.model.parameters())
    resumed.fit()
    assert np.isfinite(resumed.run_dir.read_metrics()[-1]["test_loss"])


def test_float32_run_keeps_float32(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=1,
                                         limit_train=64, limit_test=64))
    trainer.fit()
    for param in trainer.model.parameters():
        assert param.dtype == np.float32
    for state in trainer.optimizer.state.values():
        assert state["momentum_buffer"].dtype == np.float32


# --------------------------------------------------------------------------- run directory
def test_run_directory_holds_config_metrics_and_checkpoints(tmp_path, mnist_dir):
    cfg = trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=2, limit_train=300,
                         limit_test=200)
    trainer = Trainer.new(cfg)
    reports = trainer.fit()
    run_dir = trainer.run_dir
    assert run_dir.path.parent == tmp_path / "runs"
    assert run_dir.path.name.startswith("lenet5-mnist-")
    assert sorted(entry.name for entry in run_dir.path.iterdir()) == [
        "best.safetensors", "checkpoint.safetensors", "config.json", "last.safetensors",
        "metrics.jsonl"]

    assert json.loads(run_dir.config.read_text()) == cfg.to_dict()
    assert TrainConfig.load(run_dir.config) == cfg

    records = [json.loads(line) for line in run_dir.metrics.read_text().splitlines()]
    assert [record["epoch"] for record in records] == [1, 2]
    for record, report in zip(records, reports):
        assert set(record) == {"epoch", "lr", "train_loss", "train_accuracy", "test_loss",
                               "test_accuracy", "images_per_second", "train_seconds"}
        assert record["test_accuracy"] == report.test.accuracy
        assert record["train_loss"] == report.train.loss
        assert record["lr"] == report.lr
        assert 0 <= record["test_accuracy"] <= 1 and record["images_per_second"] > 0

    # last = the final weights; best = the weights of the best test accuracy; both say which
    # network they hold.
    last = load_weights(run_dir.last_weights)
    for key, value in trainer.model.state_dict().items():
        assert np.array_equal(last[key], value), key
    # Width 1 (the default) records no width: such files are as they were before widths.
    assert read_metadata(run_dir.best_weights)["minicnn.model"] == "lenet5"
    assert "minicnn.width" not in read_metadata(run_dir.best_weights)
    best_model = LeNet5()
    best_model.load_state_dict(load_weights(run_dir.best_weights))
    best_accuracy = evaluate(best_model, trainer.test_loader, trainer.loss_fn).accuracy
    assert best_accuracy == max(record["test_accuracy"] for record in records)
    assert trainer.best_accuracy == best_accuracy

    model_state, states = load_checkpoint(run_dir.checkpoint)
    assert sorted(model_state) == sorted(trainer.model.state_dict())
    assert set(states) == {"optimizer", "scheduler", "train_loader", "rng", "progress"}
    assert states["progress"] == {"epochs_done": 2, "best_accuracy": best_accuracy}
    assert states["train_loader"]["epoch"] == 2


def test_a_wider_network_trains_and_loads_back_at_its_width(tmp_path, mnist_dir):
    trainer = Trainer.new(trainer_config(tmp_path, data_dir=str(mnist_dir), epochs=1,
                                         limit_train=128, limit_test=64, width=1.5), name="wide")
    trainer.fit()
    assert trainer.run_dir.path.name.startswith("wide-")
    assert trainer.model.features[0].weight.shape == (9, 1, 5, 5)
    assert read_metadata(trainer.run_dir.best_weights)["minicnn.width"] == "1.5"
    # The weights file says its width; so does the run's config.json for the checkpoint.
    for path in (trainer.run_dir.path, trainer.run_dir.best_weights, trainer.run_dir.checkpoint):
        model, _ = load_trained_model(path)
        assert model.features[0].weight.shape == (9, 1, 5, 5), path


def test_a_cifar_run_takes_its_channels_classes_and_statistics_from_the_data(tmp_path,
                                                                            cifar10_dir):
    trainer = Trainer.new(trainer_config(tmp_path, dataset="cifar10", model="seednet", epochs=1,
                                 data_dir=str(cifar10_dir), limit_train=None, limit_test=None,
                                 batch_size=40, lr=0.01))
    assert trainer.run_dir.path.name.startswith("seednet-cifar10-")
    assert trainer.model.features[0].weight.shape == (12, 3, 3, 3), "RGB input"
    assert not trainer.model.features[0].needs_input_grad, "the images need no gradient"
    images, _ = trainer.train_loader.dataset.get_batch(np.arange(40))
    assert images.shape == (40, 3, 32, 32) and images.dtype == np.float32
    trainer.fit()
    from minicnn.data import CIFAR10, channel_statistics

    mean, std = channel_statistics(CIFAR10(cifar10_dir))
    metadata = read_metadata(trainer.run_dir.best_weights)
    assert metadata["minicnn.model"] == "seednet" and metadata["minicnn.dataset"] == "cifar10"
    assert json.loads(metadata["minicnn.mean"]) == list(mean)
    assert json.loads(metadata["minicnn.std"]) == list(std)
    model, _ = load_trained_model(trainer.run_dir.best_weights)
    assert model.features[0].weight.shape == (12, 3, 3, 3)
    assert evaluate(model, trainer.test_loader, trainer.loss_fn).accuracy == (
        trainer.best_accuracy)


def test_cifar100_gives_a_hundred_logits(tmp_path, cifar_files):
    files = cifar_files(kind="cifar100", per_file=20, test_count=10)
    trainer = Trainer.new(trainer_config(tmp_path, dataset="cifar100", model="seednet", epochs=1,
                                 data_dir=str(files.root), limit_train=None, limit_test=None,
                                 batch_size=10))
    assert trainer.model.classifier[1].weight.shape == (100, 12 * 16 * 16)
    trainer.fit()
    model, _ = load_trained_model(trainer.run_dir.path)
    assert model.classifier[1].weight.shape[0] == 100


@pytest.mark.parametrize(("dataset", "model", "message"), [
    ("cifar10", "lenet5", "lenet5: LeNet-5 takes 1-channel 28x28 digits"),
    ("mnist", "seednet", r"model 'seednet' does not take MNIST images \(1, 28, 28\): "
                         r"Linear\(in_features=3072"),
])
def test_a_network_that_does_not_fit_the_images_is_refused_before_any_data(
        tmp_path, cifar10_dir, mnist_dir, dataset, model, message):
    data_dir = cifar10_dir if dataset == "cifar10" else mnist_dir
    with pytest.raises(ValueError, match=message):
        Trainer.new(trainer_config(tmp_path, dataset=dataset, model=model, data_dir=str(data_dir)))
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_run_that_cannot_start_leaves_no_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        Trainer.new(trainer_config(tmp_path, data_dir=str(tmp_path / "no-mnist-here")))
    assert list((tmp_path / "runs").iterdir()) == []


def test_two_runs_in_the_same_second_get_different_directories(tmp_path, mnist_dir):
    paths = {RunDir.create(tmp_path, "lenet5-mnist").path for _ in range(3)}
    assert len(paths) == 3 and all(path.is_dir() for path in paths)


def test_same_seed_same_run_other_seed_other_run(tmp_path, mnist_dir):
    def final_weights(seed, folder):
        trainer = Trainer.new(trainer_config(tmp_path / folder, data_dir=str(mnist_dir), epochs=1,
                                             limit_train=128, limit_test=64, seed=seed))
        trainer.fit()
        return trainer.model.state_dict()["classifier.5.weight"]

    first, again, other = final_weights(3, "a"), final_weights(3, "b"), final_weights(4, "c")
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


# --------------------------------------------------------------------------- the loop
class _Batches:
    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def test_train_epoch_reports_means_weighted_by_batch_size_and_calls_back():
    from minicnn.nn.loss import CrossEntropyLoss
    from minicnn.optim import SGD

    minicnn_random.manual_seed(0)
    model = LeNet5()
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((size, 1, 28, 28)).astype(np.float32),
                rng.integers(0, 10, size)) for size in (5, 3)]
    steps = []
    result = train_epoch(model, _Batches(batches), CrossEntropyLoss(),
                         SGD(list(model.parameters()), lr=0.0),
                         on_step=lambda *args: steps.append(args))
    assert [(step, size) for step, _, _, size in steps] == [(0, 5), (1, 3)]
    expected_loss = (steps[0][1] * 5 + steps[1][1] * 3) / 8
    assert result.loss == pytest.approx(expected_loss, rel=1e-12)
    assert result.images == 8 and result.images_per_second > 0
    # lr 0: the weights did not move, so evaluating the same batches gives the same loss.
    model.eval()
    evaluation = evaluate(model, _Batches(batches), CrossEntropyLoss())
    assert evaluation.loss == pytest.approx(result.loss, rel=1e-6)
    assert not model.training
    assert evaluation.predictions.shape == (8,) and evaluation.targets.shape == (8,)


def test_empty_loaders_are_errors():
    from minicnn.nn.loss import CrossEntropyLoss
    from minicnn.optim import SGD

    model = LeNet5()
    with pytest.raises(ValueError, match="train_epoch: the loader yielded no batches"):
        train_epoch(model, _Batches([]), CrossEntropyLoss(), SGD(list(model.parameters()), 0.1))
    with pytest.raises(ValueError, match="evaluate: the loader yielded no batches"):
        evaluate(model, _Batches([]), CrossEntropyLoss())
    assert model.training, "evaluate must restore the training mode even when it fails"


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize(("field", "value", "message"), [
    ("optimizer", "lbfgs", "optimizer must be one of"),
    ("scheduler", "warmup", "scheduler must be one of"),
    ("dtype", "float16", "dtype must be one of"),
    ("dataset", "imagenet", "dataset must be one of"),
    ("epochs", 0, "epochs must be positive"),
    ("batch_size", -1, "batch_size must be positive"),
    ("limit_train", 0, "limit_train must be positive"),
    ("lr", 0.0, "lr must be positive"),
    ("width", 0.0, "width must be positive"),
])
def test_config_rejects_bad_settings_by_name(field, value, message):
    with pytest.raises(ValueError, match=f"TrainConfig: {message}"):
        TrainConfig(**{field: value})


def test_config_file_round_trip_and_unknown_keys(tmp_path):
    cfg = TrainConfig(epochs=3, lr=0.01, limit_train=10, dtype="float64")
    cfg.save(tmp_path / "config.json")
    assert TrainConfig.load(tmp_path / "config.json") == cfg
    with pytest.raises(ValueError, match=r"unknown settings \['colour'\]"):
        TrainConfig.from_dict({"colour": "blue"})
