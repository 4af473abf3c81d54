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
                skip_nonfinite: bool = False, data_parallel=None) -> EpochResult:
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
        data_parallel: a :class:`~minicnn.distributed.DataParallel` to train on several
            ranks: ``loader`` yields this rank's share of each batch, ``loss_fn`` has
            ``reduction='sum'``, and one Allreduce per step sums the ranks' gradients, losses,
            counts and stop requests (so every rank takes the same step, skips the same batch
            and stops after the same step). ``on_step`` and ``progress`` see the whole batch.
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
        if data_parallel is None:
            loss = float(loss_fn(logits, labels))
            batch_size, stop_requested = len(labels), None
        else:
            loss, batch_size, batch_correct, stop_requested, share_finite = (
                _data_parallel_backward(model, logits, labels, loss_fn, data_parallel,
                                        should_stop))
        if not math.isfinite(loss):
            if not skip_nonfinite:
                where = (locate_nonfinite(model, loss_fn, images, labels) if data_parallel is None
                         else _locate_on_ranks(model, loss_fn, images, labels, data_parallel,
                                               share_finite))
                raise NonFiniteLossError(
                    f"the loss is {loss} at step {step} (batch {step + 1} of the epoch); "
                    f"NaN/Inf first appeared in {where}"
                )
            warnings.warn(f"skipped step {step}: the loss is {loss}", RuntimeWarning,
                          stacklevel=2)
            progress.skipped += 1
        else:
            if data_parallel is None:
                model.backward(loss_fn.backward())
            optimizer.step()
        if scheduler_per_step is not None:
            scheduler_per_step.step()
        progress.steps = step + 1
        progress.seconds = seconds_before + time.perf_counter() - start
        if math.isfinite(loss):
            if data_parallel is None:
                batch_correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
            progress.loss_sum += loss * batch_size
            progress.correct += batch_correct
            progress.seen += batch_size
            if on_step is not None:
                on_step(step, loss, batch_correct / batch_size, batch_size)
        # After an epoch's last step, the epoch ends as usual (evaluation, checkpoint) and the
        # caller stops between epochs: a checkpoint of a finished epoch is the simpler one.
        last_step = hasattr(loader, "__len__") and step + 1 >= len(loader)
        if stop_requested is None:  # one process: ask now; several: the ranks agreed above
            stop_requested = should_stop is not None and not last_step and should_stop()
        if stop_requested and not last_step:
            raise TrainingInterrupted(f"stopped after step {step}")
    if progress.seen == 0:
        if progress.skipped:
            raise NonFiniteLossError(f"train_epoch: all {progress.skipped} batches of the epoch "
                                     "had a non-finite loss")
        raise ValueError("train_epoch: the loader yielded no batches")
    return EpochResult(progress.loss_sum / progress.seen, progress.correct / progress.seen,
                       progress.seen, progress.seconds)


def _data_parallel_backward(model, logits, labels, loss_fn, data_parallel, should_stop):
    """Backpropagate this rank's share and sum the ranks' gradients and numbers: the whole
    batch's ``(mean loss, size, correct, stop requested)``, the same on every rank, and
    whether this rank's own share had a finite loss.

    The backward runs even when the loss is not finite: every rank must take part in the
    step's collective operations (SyncBatchNorm's, the gradients' Allreduce) before any of
    them can know that another rank's loss was NaN.
    """
    loss_sum = float(loss_fn(logits, labels))
    model.backward(loss_fn.backward())
    correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
    asked = should_stop is not None and bool(should_stop())
    totals = data_parallel.reduce_gradients(len(labels), loss_sum, correct, asked)
    loss = totals.loss_sum / totals.count if totals.count else math.nan
    return loss, totals.count, totals.correct, totals.stop, math.isfinite(loss_sum)


def _locate_on_ranks(model, loss_fn, images, labels, data_parallel, share_finite) -> str:
    """:func:`locate_nonfinite` on every rank (each runs one forward pass, as SyncBatchNorm's
    collective operations need), naming the first rank whose share's loss was not finite."""
    phrase = locate_nonfinite(model, loss_fn, images, labels)
    reports = data_parallel.communicator.gather_objects((share_finite, phrase))
    for rank, (finite, rank_phrase) in enumerate(reports):
        if not finite:
            return f"{rank_phrase} (in the share of rank {rank})"
    return phrase


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
