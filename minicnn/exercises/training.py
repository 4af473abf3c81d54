"""The last check: the learner's function, plugged into LeNet-5, trains on MNIST.

An exercise that passed every numerical check gives a *trainee*: LeNet-5 (or a LeNet-5 with
BatchNorm, average pooling or a residual block, as the exercise needs) with the learner's
function in place of minicnn's. It trains for a few hundred steps of SGD with momentum and is
scored on held-out test images; its twin, built from the same seed with minicnn's own layers,
trains on the same batches. The learner's network passes when its loss stays finite and its
accuracy is within :data:`ACCURACY_MARGIN` of the twin's: a function that is right but writes
into an array it should not, loses float32, or is too slow, shows here.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from minicnn.data.mnist import MNIST
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.optim.sgd import SGD

__all__ = [
    "ACCURACY_MARGIN",
    "LR",
    "MOMENTUM",
    "ModuleTrainee",
    "TrainingData",
    "TrainingRun",
    "load_training_data",
    "train",
]

LR, MOMENTUM = 0.01, 0.9
"""SGD settings of every trainee (an optimiser exercise brings its own update rule)."""
ACCURACY_MARGIN = 0.05
"""How far (as a fraction) the learner's test accuracy may fall below its twin's."""
TEST_IMAGES = 1000


class ModuleTrainee:
    """A model, a loss and an optimiser: one training step, and predictions."""

    def __init__(self, model, loss=None, optimizer=None, lr: float = LR):
        self.model = model
        self.loss = loss if loss is not None else CrossEntropyLoss()
        self.optimizer = (optimizer if optimizer is not None
                          else SGD(model.parameters(), lr=lr, momentum=MOMENTUM))

    def step(self, images: np.ndarray, labels: np.ndarray) -> float:
        self.optimizer.zero_grad()
        loss = self.loss(self.model(images), labels)
        self.model.backward(self.loss.backward())
        self.optimizer.step()
        return float(loss)

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.model.eval()
        try:
            return self.model(images)
        finally:
            self.model.train()


@dataclass(frozen=True)
class TrainingData:
    """MNIST's training set (images normalised per batch) and the first test images."""

    train_set: MNIST
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def batch(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self.train_set.get_batch(indices)
        return _normalise(images), labels


def _normalise(images: np.ndarray) -> np.ndarray:
    return (images - np.float32(MNIST.mean)) / np.float32(MNIST.std)


def load_training_data(data_dir=None) -> TrainingData:
    """MNIST from ``data_dir``, else ``$MINICNN_MNIST_DIR``, else the cache (downloading once).

    Raises the data package's errors (``FileNotFoundError``, ``DownloadError``,
    ``DataFileError``) when none of these gives the files.
    """
    source = data_dir or os.environ.get("MINICNN_MNIST_DIR")
    download = source is None
    train_set = MNIST(source, train=True, download=download)
    test_set = MNIST(source, train=False, download=download)
    test_images, test_labels = test_set.get_batch(np.arange(TEST_IMAGES))
    return TrainingData(train_set, _normalise(test_images), test_labels,
                        str(train_set.root))


@dataclass(frozen=True)
class TrainingRun:
    """What one training run did.

    Attributes:
        steps: the steps taken (fewer than asked when the time budget ran out).
        first_loss, last_loss: the mean loss of the first and of the last tenth of the steps.
        accuracy: on the test images, a fraction; ``nan`` if the loss went non-finite.
        seconds: the training's wall time.
        nonfinite_step: the first step whose loss was NaN or infinite, or ``None``.
    """

    steps: int
    first_loss: float
    last_loss: float
    accuracy: float
    seconds: float
    nonfinite_step: int | None = None


def batch_indices(data: TrainingData, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """``(steps, batch_size)`` training-set indices: a seeded shuffle, the same for twins."""
    count = len(data.train_set)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(count)
                            for _ in range(-(-steps * batch_size // count))])
    return order[: steps * batch_size].reshape(steps, batch_size)


def train(trainee, data: TrainingData, steps: int, batch_size: int, seed: int,
          time_budget: float | None = None, progress=None) -> TrainingRun:
    """Train ``trainee`` for ``steps`` steps (or until ``time_budget`` seconds), then score it.

    ``progress`` is called with ``(step, loss)`` after every step (a progress bar's update).
    """
    losses = []
    nonfinite_step = None
    started = time.perf_counter()
    for step, indices in enumerate(batch_indices(data, steps, batch_size, seed)):
        loss = trainee.step(*data.batch(indices))
        losses.append(loss)
        if progress is not None:
            progress(step, loss)
        if not np.isfinite(loss):
            nonfinite_step = step
            break
        if time_budget is not None and time.perf_counter() - started > time_budget:
            break
    seconds = time.perf_counter() - started
    tenth = max(1, len(losses) // 10)
    accuracy = float("nan")
    if nonfinite_step is None:
        predictions = np.concatenate([
            trainee.predict(data.test_images[start:start + 250]).argmax(axis=1)
            for start in range(0, len(data.test_images), 250)])
        accuracy = float(np.mean(predictions == data.test_labels))
    return TrainingRun(len(losses), float(np.mean(losses[:tenth])),
                       float(np.mean(losses[-tenth:])), accuracy, seconds, nonfinite_step)
