"""Trainer: builds a run from a TrainConfig, trains it epoch by epoch, resumes it exactly.

Each epoch ends with an evaluation on the test set, a line in ``metrics.jsonl`` and an atomic
rewrite of the checkpoint, which holds the weights, the optimiser, the scheduler, the data
loader's shuffling state, minicnn's global RNG (dropout) and the progress. Resuming loads all
of it, so a run stopped after epoch k and resumed ends with the same weights, bit for bit,
as a run that was never stopped.

A checkpoint can also be taken in the middle of an epoch: every ``checkpoint_every`` steps,
and when training is interrupted (:class:`~minicnn.train.loop.TrainingInterrupted`, raised
after a finished step). It adds the epoch's running sums (:class:`EpochProgress`), so the
resumed epoch ends with the same weights *and* the same metrics as an uninterrupted one.
A non-finite loss stops the run without writing anything: the last checkpoint stays the last
good one.

Given a :class:`~minicnn.distributed.Communicator` of several ranks, the same Trainer trains
data-parallel (``minicnn train --distributed``): every rank builds the same run, takes its share
of each batch (:class:`~minicnn.data.ShardedDataLoader`; ``batch_size`` stays the global
batch) and :class:`~minicnn.distributed.DataParallel` sums the gradients, so every rank takes
the step one process would. Rank 0 alone creates and writes the run directory (config,
metrics, checkpoints, weights); the other ranks receive what it reads (a resumed checkpoint)
by broadcast. Evaluation is shared out too. Random augmentation is drawn for each global batch
(:class:`~minicnn.data.transforms.BatchShare`), so every image is augmented as one process
would augment it. Each rank draws its own dropout masks (rank 0 from the seed's stream, as one
process would; rank ``r`` from a stream derived from the seed and ``r``), and a checkpoint
keeps every rank's generator, so a resumed run with as many ranks repeats exactly; with
another number of ranks, the streams of ranks above 0 are derived anew.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minicnn import random as minicnn_random
from minicnn.data import DataLoader, ShardedDataLoader, Subset, shard_bounds
from minicnn.models import build_model
from minicnn.nn.conv import Conv2d
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.nn.module import Module
from minicnn.optim import SGD, Adam, AdamW, RMSprop, lr_scheduler
from minicnn.train.checkpoint import load_checkpoint, save_checkpoint, save_weights
from minicnn.train.config import TrainConfig
from minicnn.train.datasets import (
    dataset_spec,
    normalization_statistics,
    open_split,
    prepare_split,
)
from minicnn.train.loop import (
    EpochProgress,
    EpochResult,
    EvalResult,
    TrainingInterrupted,
    evaluate,
    train_epoch,
)
from minicnn.train.nonfinite import NonFiniteLossError
from minicnn.train.run_dir import RunDir

__all__ = ["EpochReport", "ModelChoiceError", "Trainer"]

# Schedules whose shape depends on the run's total length.
PLANNED_SCHEDULERS = ("cosine", "onecycle")


@dataclass
class EpochReport:
    epoch: int
    train: EpochResult
    test: EvalResult
    lr: float


def build_optimizer(config: TrainConfig, parameters):
    if config.optimizer == "sgd":
        return SGD(parameters, lr=config.lr, momentum=config.momentum,
                   weight_decay=config.weight_decay, nesterov=config.momentum > 0)
    if config.optimizer == "adam":
        return Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return RMSprop(parameters, lr=config.lr, momentum=config.momentum,
                   weight_decay=config.weight_decay)


def build_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """The scheduler and whether it steps after every batch (True) or every epoch (False)."""
    epochs = config.epochs
    if config.scheduler == "none":
        return None, False
    if config.scheduler == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), False
    if config.scheduler == "multistep":
        milestones = [max(1, epochs // 2), max(2, (3 * epochs) // 4)]
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1), False
    if config.scheduler == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=0.9), False
    if config.scheduler == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs), False
    if config.scheduler == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=epochs,
                                       steps_per_epoch=steps_per_epoch), True
    return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=2), False


class ModelChoiceError(ValueError):
    """The run's network cannot be built for its dataset, or does not take its images."""


def skip_data_gradient(model: Module) -> None:
    """Let the first convolution skip the gradient of its input, the images.

    Only when that convolution is the model's first leaf module (registration order, which
    for the built-in networks is the order they run): the data needs no gradient.
    """
    first_leaf = next((module for module in model.modules()
                       if next(module.children(), None) is None), None)
    if isinstance(first_leaf, Conv2d):
        first_leaf.needs_input_grad = False


def check_model_takes(model: Module, name: str, dataset_class, dtype) -> None:
    """Run one blank image through ``model`` (eval mode) so that a network that does not fit
    the dataset's images fails here, with a sentence, before any data is read."""
    shape = (dataset_class.channels, *dataset_class.image_size)
    was_training = model.training
    try:
        model.eval()(np.zeros((1, *shape), dtype=dtype))
    except (ValueError, TypeError) as error:
        raise ModelChoiceError(f"model {name!r} does not take {dataset_class.dataset_name} "
                               f"images {shape}: {error}") from None
    finally:
        model.train(was_training)


def _rank_seed(seed: int, rank: int, *position: int) -> np.random.SeedSequence:
    """The seed of rank ``rank``'s random stream (dropout), independent of rank 0's."""
    return np.random.SeedSequence([seed, rank, *position])


class Trainer:
    """One training run: model, optimiser, scheduler, loaders and run directory.

    Build with :meth:`new` (a fresh run) or :meth:`resume` (continue a run directory), then
    call :meth:`fit`.

    The network is ``build_model(config.model, ...)`` for the dataset's classes and channels,
    unless a ``model`` is given (any Module with ``forward`` and ``backward``: a network of
    your own, trained and checkpointed the same way; ``config.model`` then only names it, and
    :meth:`resume` needs the same ``model`` built again).

    The training images are normalised by :attr:`statistics` (see
    :mod:`minicnn.train.datasets`) and, with ``config.augment``, augmented; the augmentation
    draws from the training loader's per-batch generators, so it is part of the exact resume.
    """

    def __init__(self, config: TrainConfig, run_dir: RunDir, model: Module | None = None,
                 communicator=None):
        self.config = config
        self.run_dir = run_dir
        self.communicator = communicator
        minicnn_random.manual_seed(config.seed)
        dtype = np.dtype(config.dtype)
        dataset_class = dataset_spec(config.dataset).dataset_class
        if model is None:
            try:
                model = build_model(config.model, num_classes=len(dataset_class.classes),
                                    width=config.width, in_channels=dataset_class.channels)
            except ValueError as error:
                raise ModelChoiceError(str(error)) from None
            # The first convolution reads the images, which need no gradient: skip computing it.
            skip_data_gradient(model)
        self.model = model.to(dtype)
        check_model_takes(self.model, config.model, dataset_class, dtype)
        self.loss_fn = CrossEntropyLoss()
        train_split = open_split(config.dataset, config.data_dir, True, dtype)
        # (mean, std) per channel, recorded in the weights' metadata for predict.
        self.statistics = normalization_statistics(config.dataset, train_set=train_split)
        train_set = prepare_split(train_split, config.dataset, self.statistics,
                                  config.limit_train, augment=config.augment)
        test_set = prepare_split(open_split(config.dataset, config.data_dir, False, dtype),
                                 config.dataset, self.statistics, config.limit_test)
        self.test_set = test_set  # the whole of it, also where each rank evaluates a share
        self.data_parallel = None
        if communicator is None:
            self.train_loader = DataLoader(train_set, batch_size=config.batch_size,
                                           shuffle=True, generator=config.seed)
            self.train_loss_fn = self.loss_fn
        else:
            from minicnn.distributed import DataParallel

            rank, ranks = communicator.rank, communicator.size
            self.train_loader = ShardedDataLoader(
                train_set, batch_size=config.batch_size, shuffle=True, generator=config.seed,
                rank=rank, num_replicas=ranks)
            # Each rank backpropagates its share's loss sum; DataParallel divides by the batch.
            self.train_loss_fn = CrossEntropyLoss(reduction="sum")
            self.data_parallel = DataParallel(self.model, communicator)
            self.data_parallel.broadcast_state()
            start, end = shard_bounds(len(test_set), rank, ranks)
            test_set = Subset(test_set, np.arange(start, end))
            if rank:
                minicnn_random.manual_seed(_rank_seed(config.seed, rank))
        self.test_loader = DataLoader(test_set, batch_size=1000)
        self.optimizer = build_optimizer(config, list(self.model.parameters()))
        self.scheduler, self.scheduler_per_step = build_scheduler(
            config, self.optimizer, len(self.train_loader))
        self.epochs_done = 0
        self.best_accuracy = -1.0
        self.progress = EpochProgress()  # the current epoch's steps so far

    @property
    def is_root(self) -> bool:
        """Whether this process writes the run directory (rank 0, or the only process)."""
        return self.communicator is None or self.communicator.is_root

    @classmethod
    def new(cls, config: TrainConfig, name: str | None = None,
            model: Module | None = None, communicator=None) -> Trainer:
        """A fresh run in a new directory ``config.out_dir/<name>-<timestamp>``.

        ``name`` defaults to ``<model>-<dataset>``; the tuner names its runs after its trials.
        ``model``: a network of your own instead of ``config.model``'s. With a
        ``communicator``, every rank calls this; rank 0 creates the directory.
        """
        name = f"{config.model}-{config.dataset}" if name is None else name
        root = communicator is None or communicator.is_root
        if communicator is None:
            run_dir = RunDir.create(config.out_dir, name)
        else:
            run_dir = communicator.run_on_root(lambda: RunDir.create(config.out_dir, name))
        try:
            trainer = cls(config, run_dir, model, communicator)
        except BaseException:
            # No data (offline, no --data-dir): leave no empty run directory behind.
            if root:
                shutil.rmtree(run_dir.path, ignore_errors=True)
            raise
        if root:
            config.save(run_dir.config)
        # A checkpoint of step 0, so that a run stopped in its first epoch (killed, or by a
        # non-finite loss) can be resumed like any other.
        trainer.save_state()
        return trainer

    @classmethod
    def resume(cls, path, epochs: int | None = None, skip_nonfinite: bool | None = None,
               model: Module | None = None, communicator=None) -> Trainer:
        """Continue the run in ``path`` from its last checkpoint (optionally to more epochs).

        ``skip_nonfinite`` overrides the run's setting (e.g. to step over the batch that
        stopped it). ``model``: the network of your own the run was started with, built
        afresh (its weights come from the checkpoint). With a ``communicator``, every rank
        calls this: rank 0 reads the run directory and sends its config and checkpoint to the
        others (which need no access to it), with any number of ranks.
        """
        def prepare():
            return cls._prepare_resume(RunDir(path), epochs, skip_nonfinite)

        config, checkpoint = (prepare() if communicator is None
                              else communicator.run_on_root(prepare))
        trainer = cls(config, RunDir(path), model, communicator)
        trainer.load_state(checkpoint)
        if trainer.is_root:
            trainer.run_dir.truncate_metrics(trainer.epochs_done)
        return trainer

    @staticmethod
    def _prepare_resume(run_dir: RunDir, epochs: int | None, skip_nonfinite: bool | None):
        """Read the run's config and checkpoint, and apply the new settings to its config."""
        config = TrainConfig.load(run_dir.config)
        # Read first: a damaged checkpoint should fail before minutes of data loading.
        checkpoint = load_checkpoint(run_dir.checkpoint)
        # A process killed mid-write leaves its temporary file; the checkpoint itself is whole.
        for leftover in Path(run_dir.path).glob(".*.safetensors.*.tmp"):
            leftover.unlink(missing_ok=True)
        if skip_nonfinite is not None and skip_nonfinite != config.skip_nonfinite:
            config.skip_nonfinite = skip_nonfinite
            config.save(run_dir.config)
        if epochs is not None and epochs != config.epochs:
            if config.scheduler in PLANNED_SCHEDULERS:
                # Their saved state holds the old length (T_max, total_steps): past it, cosine
                # restarts from lr 0 and onecycle refuses to step.
                raise ValueError(
                    f"the {config.scheduler} schedule of this run was planned for "
                    f"{config.epochs} epochs and cannot be stretched to {epochs}; start a new "
                    "run with --epochs, or resume without --epochs")
            config.epochs = epochs
            config.save(run_dir.config)
        return config, checkpoint

    # ------------------------------------------------------------------ state
    def save_state(self) -> None:
        """Write the checkpoint (with several ranks: every rank calls this, rank 0 writes)."""
        rngs = [minicnn_random.get_rng_state()]
        if self.communicator is not None:
            rngs = self.communicator.gather_objects(rngs[0])
        if not self.is_root:
            return
        states = {
            "optimizer": self.optimizer.state_dict(),
            "train_loader": self.train_loader.state_dict(),
            "rng": rngs[0],
            "progress": {"epochs_done": self.epochs_done, "best_accuracy": self.best_accuracy},
        }
        if len(rngs) > 1:
            states["rank_rngs"] = rngs[1:]
        if self.progress.steps:
            states["epoch_progress"] = self.progress.state_dict()
        if self.scheduler is not None:
            states["scheduler"] = self.scheduler.state_dict()
        save_checkpoint(self.run_dir.checkpoint, self.model.state_dict(), **states)

    def load_state(self, checkpoint) -> None:
        """Restore a checkpoint: a path, or the ``(model_state, states)`` it holds."""
        model_state, states = (checkpoint if isinstance(checkpoint, tuple)
                               else load_checkpoint(checkpoint))
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(states["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(states["scheduler"])
        self.train_loader.load_state_dict(states["train_loader"])
        self.epochs_done = states["progress"]["epochs_done"]
        self.best_accuracy = states["progress"]["best_accuracy"]
        self.progress = EpochProgress.from_state_dict(states.get("epoch_progress", {}))
        rank = 0 if self.communicator is None else self.communicator.rank
        rank_rngs = states.get("rank_rngs", [])
        if rank == 0:
            minicnn_random.set_rng_state(states["rng"])
        elif len(rank_rngs) == self.communicator.size - 1:  # saved by as many ranks
            minicnn_random.set_rng_state(rank_rngs[rank - 1])
        else:
            minicnn_random.manual_seed(_rank_seed(
                self.config.seed, rank, self.epochs_done, self.progress.steps))

    def weights_metadata(self) -> dict[str, str]:
        """What a weights file says about its network and the images it takes.

        Only what differs from an MNIST LeNet-5 run's defaults is written beyond the model's
        name (such files are as they were before widths and datasets): ``minicnn.width``,
        ``minicnn.dataset``, and the normalisation ``minicnn.mean`` / ``minicnn.std`` (JSON
        lists) of a dataset whose statistics were measured, which ``minicnn predict`` needs.
        """
        metadata = {"minicnn.model": self.config.model}
        if self.config.width != 1:
            metadata["minicnn.width"] = repr(float(self.config.width))
        if self.config.dataset != "mnist":
            metadata["minicnn.dataset"] = self.config.dataset
        if dataset_spec(self.config.dataset).measured_statistics:
            metadata["minicnn.mean"] = json.dumps(list(self.statistics[0]))
            metadata["minicnn.std"] = json.dumps(list(self.statistics[1]))
        return metadata

    # ------------------------------------------------------------------ training
    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def run_epoch(self, on_step: Callable | None = None,
                  should_stop: Callable[[], bool] | None = None) -> EpochReport:
        """Train (the rest of) one epoch, evaluate, log and checkpoint.

        ``should_stop`` is checked after every step: when it turns True, a checkpoint of the
        finished steps is written and :class:`TrainingInterrupted` raised. A non-finite loss
        raises :class:`~minicnn.train.nonfinite.NonFiniteLossError` naming the epoch, the
        step and the layer, and writes nothing.
        """
        every = self.config.checkpoint_every
        steps_per_epoch = len(self.train_loader)

        def after_step(step, loss, accuracy, batch_size):
            if on_step is not None:
                on_step(step, loss, accuracy, batch_size)
            if every and (step + 1) % every == 0 and step + 1 < steps_per_epoch:
                self.save_state()

        communicator = self.communicator
        seconds_before = 0.0 if communicator is None else communicator.seconds
        try:
            train = train_epoch(
                self.model, self.train_loader, self.train_loss_fn, self.optimizer,
                on_step=after_step,
                scheduler_per_step=self.scheduler if self.scheduler_per_step else None,
                progress=self.progress, should_stop=should_stop,
                skip_nonfinite=self.config.skip_nonfinite, data_parallel=self.data_parallel)
        except TrainingInterrupted:
            self.save_state()
            raise
        except NonFiniteLossError as error:
            raise NonFiniteLossError(f"epoch {self.epochs_done + 1}: {error}") from None
        lr, skipped = self.progress.lr, self.progress.skipped
        self.progress = EpochProgress()
        communication = None if communicator is None else communicator.seconds - seconds_before
        test = self._evaluate()
        if self.scheduler is not None and not self.scheduler_per_step:
            if isinstance(self.scheduler, lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(test.loss)
            else:
                self.scheduler.step()
        self.epochs_done += 1
        report = EpochReport(self.epochs_done, train, test, lr)
        record = {
            "epoch": self.epochs_done, "lr": lr,
            "train_loss": train.loss, "train_accuracy": train.accuracy,
            "test_loss": test.loss, "test_accuracy": test.accuracy,
            "images_per_second": train.images_per_second, "train_seconds": train.seconds,
        }
        if self.config.skip_nonfinite:
            record["skipped_batches"] = skipped
        if communicator is not None:
            # Rank 0's time inside collective operations during the epoch's training steps
            # (its own waiting for slower ranks included).
            record.update(ranks=communicator.size, communication_seconds=communication)
        improved = test.accuracy > self.best_accuracy
        if improved:
            self.best_accuracy = test.accuracy
        if self.is_root:
            self.run_dir.append_metrics(record)
            weights, metadata = self.model.state_dict(), self.weights_metadata()
            save_weights(self.run_dir.last_weights, weights, metadata)
            if improved:
                save_weights(self.run_dir.best_weights, weights, metadata)
        self.save_state()
        return report

    def _evaluate(self) -> EvalResult:
        """The test set's loss and accuracy; with several ranks each evaluates its share and
        every rank gets the whole result (in the test set's order)."""
        if self.communicator is None:
            return evaluate(self.model, self.test_loader, self.loss_fn)
        # Rank 0's BatchNorm statistics (those it saves) on every rank, so that every share is
        # evaluated by the same network.
        self.data_parallel.broadcast_buffers()
        share = None
        if len(self.test_loader.dataset):
            result = evaluate(self.model, self.test_loader, self.loss_fn)
            share = (result.loss * len(result.targets), result.predictions, result.targets,
                     result.seconds)
        shares = [part for part in self.communicator.gather_objects(share) if part is not None]
        predictions = np.concatenate([part[1] for part in shares])
        targets = np.concatenate([part[2] for part in shares])
        return EvalResult(sum(part[0] for part in shares) / len(targets),
                          float(np.mean(predictions == targets)), predictions, targets,
                          max(part[3] for part in shares))

    def stop_agreed(self, requested: bool) -> bool:
        """Whether any rank's ``requested`` is true (a collective: every rank asks at once);
        with one process, ``requested``. Between epochs, so that every rank stops together."""
        if self.communicator is None:
            return requested
        flags = self.communicator.allgather(np.array([requested], dtype=np.int8))
        return bool(flags.any())

    def fit(self, on_step: Callable | None = None,
            on_epoch: Callable[[EpochReport], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> list[EpochReport]:
        """Train the remaining epochs; returns one report per epoch trained here."""
        reports = []
        while self.epochs_done < self.config.epochs:
            report = self.run_epoch(on_step, should_stop)
            reports.append(report)
            if on_epoch is not None:
                on_epoch(report)
            if (should_stop is not None and self.epochs_done < self.config.epochs
                    and self.stop_agreed(should_stop())):
                raise TrainingInterrupted(f"stopped after epoch {self.epochs_done}")
        return reports
