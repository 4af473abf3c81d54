"""One trial of a study: a training run through the same Trainer as ``minicnn train``.

The trial's parameters replace those settings of the study's base config; the run gets its
own run directory (``trial-0007-<timestamp>``, holding its config, metrics and checkpoints)
and reports its test accuracy after every epoch, so the pruner can stop it early. Its value
is the best test accuracy it reached, whose weights are the run's ``best.safetensors``.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable
from pathlib import Path

from minicnn.train.config import TrainConfig
from minicnn.train.trainer import EpochReport, Trainer
from minicnn.tune._optuna import import_optuna
from minicnn.tune.space import SearchSpace

__all__ = ["Objective", "trial_config"]


def trial_config(base: TrainConfig, params: dict, trials_dir: str | Path) -> TrainConfig:
    """The config of one trial: ``base`` with the trial's ``params``, run in ``trials_dir``."""
    return dataclasses.replace(base, out_dir=str(trials_dir), **params)


class Objective:
    """The function an Optuna study maximises: ``objective(trial) -> best test accuracy``.

    Args:
        base: the settings every trial shares (epochs, data, the settings not tuned).
        space: the parameters each trial draws.
        trials_dir: where the trials' run directories are created.
        on_epoch: called as ``on_epoch(trial, report)`` after each epoch (a progress line).
    """

    def __init__(self, base: TrainConfig, space: SearchSpace, trials_dir: str | Path,
                 on_epoch: Callable | None = None):
        self.base = base
        self.space = space
        self.trials_dir = Path(trials_dir)
        self.on_epoch = on_epoch
        self.trial_numbers: list[int] = []  # the trials run through this objective, in order

    def __call__(self, trial) -> float:
        optuna = import_optuna()
        self.trial_numbers.append(trial.number)
        config = trial_config(self.base, self.space.suggest(trial), self.trials_dir)
        trainer = Trainer.new(config, name=f"trial-{trial.number:04d}")
        # Where the weights are: on a shared study they may be on another machine.
        trial.set_user_attr("run_dir", str(trainer.run_dir.path.resolve()))
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")

        def report(epoch: EpochReport) -> None:
            trial.report(epoch.test.accuracy, epoch.epoch)
            if self.on_epoch is not None:
                self.on_epoch(trial, epoch)
            # Pruning after the last epoch would save nothing and hide the trial's value.
            if epoch.epoch < config.epochs and trial.should_prune():
                raise optuna.TrialPruned(
                    f"trial {trial.number} pruned after epoch {epoch.epoch}: test accuracy "
                    f"{epoch.test.accuracy:.4f} is below the pruner's threshold")

        trainer.fit(on_epoch=report)
        return trainer.best_accuracy
