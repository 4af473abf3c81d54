"""One training epoch and one evaluation pass: the loop a learner reads first.

``train_epoch`` is forward, loss, backward, optimiser step for each batch; ``evaluate`` is
forward only, in eval mode. Both are plain functions of a model, a loader and a loss, so the
command line, the tuner and a notebook all train through the same few lines.

Two things can end an epoch early. A non-finite loss raises
:class:`~minicnn.train.nonfinite.NonFiniteLossError` before the step changes anything (or, with
``skip_nonfinite``, the batch is skipped). A ``should_stop()`` that turns true (Ctrl-C, see
``minicnn train``) raises :class:`TrainingInterrupted` after the current step. Either way,
``progress`` holds the epoch's running sums up to the last finished step, which is what a
mid-epoch checkpoint stores.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np

from minicnn.train.nonfinite import NonFiniteLossError, locate_nonfinite

__all__ = [
    "EpochProgress",
    "EpochResult",
    "EvalResult",
    "TrainingInterrupted",
    "evaluate",
    "train_epoch",
]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped after a finished step because ``should_stop()`` asked it to."""


@dataclass
class EpochProgress:
    """The running sums of an epoch, up to its last finished step: what resuming needs.

    ``steps`` counts the batches taken from the loader (including skipped ones), ``lr`` is
    the learning rate the epoch started with (None until its first step).
    """

    steps: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    skipped: int = 0
    seconds: float = 0.0
    lr: float | None = None

    def state_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state_dict(cls, state: dict) -> EpochProgress:
        return cls(**state)


@dataclass
class EpochResult:
    """Mean training loss and accuracy over an epoch, and its throughput."""

    loss: float
    accuracy: float
    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class EvalResult:
    """Loss and accuracy over a dataset, with every prediction for confusion matrices."""

    loss: float
    accuracy: float
    predictions: np.ndarray
    targets: np.ndarray
    seconds: float


def train_epoch(model, loader: Iterable, loss_fn, optimizer,
                on_step: Callable[[int, float, float, int], None] | None = None,
                scheduler_per_step=None, *, progress: EpochProgress | None = None,
                should_stop: Callable[[], bool] | None = None,
                skip_nonfinite: bool = False) -> EpochResult:
    """Train ``model`` for one pass over ``loader``.

    Args:
        model: a Module with ``forward``/``backward``, switched to training mode here.
        loader: yields ``(images, labels)`` batches.
        loss_fn: a loss Module (e.g. ``CrossEntropyLoss()``).
        optimizer: updates ``model``'s parameters from their ``.grad``.
        on_step: called after each step as ``on_step(step, loss, accuracy, batch_size)``
            (a progress bar, a logger, a periodic checkpoint).
        scheduler_per_step: a scheduler stepped after every optimiser step (OneCycleLR).
        progress: the running sums, updated in place after every step; pass the ones of an
            interrupted epoch (and a loader restored to the same point) to finish it.
        should_stop: checked after every step; when it returns True, raise
            :class:`TrainingInterrupted` (the step is finished and counted in ``progress``).
        skip_nonfinite: skip a batch whose loss is NaN/Inf (no backward, no optimiser step;
            the scheduler still steps, so the schedule keeps its pace) with a warning,
            instead of raising :class:`~minicnn.train.nonfinite.NonFiniteLossError`.
    """
    model.train()
    progress = EpochProgress() if progress is None else progress
    seconds_before = progress.seconds
    start = time.perf_counter()
    for step, (images, labels) in enumerate(loader, start=progress.steps):
        if progress.lr is None:
            progress.lr = float(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        logits = model(images)
        loss = float(loss_fn(logits, labels))
        if not math.isfinite(loss):
            if not skip_nonfinite:
                raise NonFiniteLossError(
                    f"the loss is {loss} at step {step} (batch {step + 1} of the epoch); "
                    f"NaN/Inf first appeared in {locate_nonfinite(model, loss_fn, images, labels)}"
                )
            warnings.warn(f"skipped step {step}: the loss is {loss}", RuntimeWarning,
                          stacklevel=2)
            progress.skipped += 1
        else:
            model.backward(loss_fn.backward())
            optimizer.step()
        if scheduler_per_step is not None:
            scheduler_per_step.step()
        batch_size = len(labels)
        progress.steps = step + 1
        progress.seconds = seconds_before + time.perf_counter() - start
        if math.isfinite(loss):
            batch_correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
            progress.loss_sum += loss * batch_size
            progress.correct += batch_correct
            progress.seen += batch_size
            if on_step is not None:
                on_step(step, loss, batch_correct / batch_size, batch_size)
        # After an epoch's last step, the epoch ends as usual (evaluation, checkpoint) and the
        # caller stops between epochs: a checkpoint of a finished epoch is the simpler one.
        last_step = hasattr(loader, "__len__") and step + 1 >= len(loader)
        if should_stop is not None and not last_step and should_stop():
            raise TrainingInterrupted(f"stopped after step {step}")
    if progress.seen == 0:
        if progress.skipped:
            raise NonFiniteLossError(f"train_epoch: all {progress.skipped} batches of the epoch "
                                     "had a non-finite loss")
        raise ValueError("train_epoch: the loader yielded no batches")
    return EpochResult(progress.loss_sum / progress.seen, progress.correct / progress.seen,
                       progress.seen, progress.seconds)


def evaluate(model, loader: Iterable, loss_fn) -> EvalResult:
    """Loss and accuracy of ``model`` (in eval mode) over ``loader``; restores the mode."""
    was_training = model.training
    model.eval()
    total_loss = 0.0
    predictions = []
    targets = []
    start = time.perf_counter()
    try:
        for images, labels in loader:
            logits = model(images)
            total_loss += float(loss_fn(logits, labels)) * len(labels)
            predictions.append(logits.argmax(axis=1))
            targets.append(np.asarray(labels))
    finally:
        model.train(was_training)
    if not targets:
        raise ValueError("evaluate: the loader yielded no batches")
    predictions_array = np.concatenate(predictions)
    targets_array = np.concatenate(targets)
    accuracy = float(np.mean(predictions_array == targets_array))
    return EvalResult(total_loss / len(targets_array), accuracy, predictions_array,
                      targets_array, time.perf_counter() - start)
