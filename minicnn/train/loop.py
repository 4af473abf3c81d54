"""One training epoch and one evaluation pass: the loop a learner reads first.

``train_epoch`` is forward, loss, backward, optimiser step for each batch; ``evaluate`` is
forward only, in eval mode. Both are plain functions of a model, a loader and a loss, so the
command line, the tuner and a notebook all train through the same few lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["EpochResult", "EvalResult", "evaluate", "train_epoch"]


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
                scheduler_per_step=None) -> EpochResult:
    """Train ``model`` for one pass over ``loader``.

    Args:
        model: a Module with ``forward``/``backward``, switched to training mode here.
        loader: yields ``(images, labels)`` batches.
        loss_fn: a loss Module (e.g. ``CrossEntropyLoss()``).
        optimizer: updates ``model``'s parameters from their ``.grad``.
        on_step: called after each step as ``on_step(step, loss, accuracy, batch_size)``
            (a progress bar, a logger).
        scheduler_per_step: a scheduler stepped after every optimiser step (OneCycleLR).
    """
    model.train()
    total_loss = 0.0
    correct = 0
    seen = 0
    start = time.perf_counter()
    for step, (images, labels) in enumerate(loader):
        optimizer.zero_grad()
        logits = model(images)
        loss = float(loss_fn(logits, labels))
        model.backward(loss_fn.backward())
        optimizer.step()
        if scheduler_per_step is not None:
            scheduler_per_step.step()
        batch_size = len(labels)
        batch_correct = int(np.count_nonzero(logits.argmax(axis=1) == labels))
        total_loss += loss * batch_size
        correct += batch_correct
        seen += batch_size
        if on_step is not None:
            on_step(step, loss, batch_correct / batch_size, batch_size)
    seconds = time.perf_counter() - start
    if seen == 0:
        raise ValueError("train_epoch: the loader yielded no batches")
    return EpochResult(total_loss / seen, correct / seen, seen, seconds)


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
