"""minicnn.tune.objective: a trial is a real training run that reports each epoch and prunes.

The studies here are in memory, with the trials' parameters enqueued, so each test knows
which run it gets; the runs are real (LeNet-5 on a few hundred MNIST images).
"""

from __future__ import annotations

import json

import optuna
import pytest

from minicnn.train.config import TrainConfig
from minicnn.tune.objective import Objective, trial_config
from minicnn.tune.space import SearchSpace
from tests.helpers.training import TINY_FIXED


def base_config(mnist_dir, **overrides) -> TrainConfig:
    return TrainConfig(**{**TINY_FIXED, "data_dir": str(mnist_dir), **overrides})


def metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def strong_earlier_trial(epochs: int) -> optuna.trial.FrozenTrial:
    """A finished trial at 99% after every epoch: the median a new trial is compared with."""
    return optuna.trial.create_trial(
        state=optuna.trial.TrialState.COMPLETE, value=0.99,
        params={"lr": 0.01}, distributions={"lr": optuna.distributions.FloatDistribution(
            1e-6, 1.0, log=True)},
        intermediate_values={epoch: 0.99 for epoch in range(1, epochs + 1)})


def test_trial_config_replaces_the_tuned_settings_only(tmp_path):
    base = TrainConfig(epochs=3, lr=0.05, batch_size=64, limit_train=1000)
    config = trial_config(base, {"lr": 0.002, "batch_size": 32}, tmp_path)
    assert (config.lr, config.batch_size, config.out_dir) == (0.002, 32, str(tmp_path))
    assert (config.epochs, config.limit_train) == (3, 1000)
    with pytest.raises(ValueError, match="TrainConfig: width must be positive"):
        trial_config(base, {"width": 0.0}, tmp_path)


def test_a_trial_trains_through_the_trainer_and_reports_each_epoch(mnist_dir, tmp_path):
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"lr": 0.003, "batch_size": 32})
    objective = Objective(base_config(mnist_dir, epochs=2),
                          SearchSpace.parse(["lr=1e-4:1e-1:log", "batch_size=32,64"]),
                          tmp_path / "trials")
    study.optimize(objective, n_trials=1)

    (trial,) = study.trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    run_dir = tmp_path / "trials" / next(iter(p.name for p in (tmp_path / "trials").iterdir()))
    assert run_dir.name.startswith("trial-0000-")
    assert trial.user_attrs["run_dir"] == str(run_dir.resolve())
    config = TrainConfig.load(run_dir / "config.json")
    assert (config.lr, config.batch_size, config.epochs) == (0.003, 32, 2)
    records = metrics(run_dir)
    # Each epoch's test accuracy reached the pruner, and the value is the best of them,
    # the accuracy of the run's best.safetensors.
    assert trial.intermediate_values == {r["epoch"]: r["test_accuracy"] for r in records}
    assert trial.value == max(r["test_accuracy"] for r in records)
    assert (run_dir / "best.safetensors").is_file()
    assert objective.trial_numbers == [0]


def test_a_trial_below_the_median_is_pruned_and_stops_training(mnist_dir, tmp_path):
    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    study.add_trial(strong_earlier_trial(epochs=3))
    study.enqueue_trial({"lr": 1e-6})  # learns nothing in an epoch: far below 99%
    seen = []
    objective = Objective(base_config(mnist_dir, epochs=3),
                          SearchSpace.parse(["lr=1e-6:1:log"]), tmp_path,
                          on_epoch=lambda trial, report: seen.append(report.epoch))
    study.optimize(objective, n_trials=1)

    trial = study.trials[1]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]
    assert seen == [1]
    (run_dir,) = tmp_path.iterdir()
    assert len(metrics(run_dir)) == 1, "a pruned trial trains no further epoch"


def test_the_last_epoch_is_never_pruned(mnist_dir, tmp_path):
    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    study.add_trial(strong_earlier_trial(epochs=1))
    study.enqueue_trial({"lr": 1e-6})
    study.optimize(Objective(base_config(mnist_dir, epochs=1),
                             SearchSpace.parse(["lr=1e-6:1:log"]), tmp_path), n_trials=1)
    trial = study.trials[1]
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.value < 0.99
