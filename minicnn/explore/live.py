"""Train live: SGD steps on the explored network, in a thread of the server's process.

The network trained here is the explorer's own copy, in memory: the run directory it came from
is read once at start-up and never written. Each step is the loop of
:func:`minicnn.train.train_epoch`, one batch at a time: forward, cross-entropy, backward,
optimiser step. It holds the explorer's lock for the length of one step only, so the page's
forward and backward requests, served between steps, see the weights as they learn.

Steps run while the trainer is started (``start``/``pause``) or for a counted number
(``step(n)``); the learning rate, momentum and batch size can change between any two steps.
A non-finite loss pauses the trainer before the step changes any weight, and says so.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from minicnn.data import DataLoader, Dataset
from minicnn.explore.threads import thread_blas
from minicnn.nn.loss import CrossEntropyLoss
from minicnn.nn.module import Module
from minicnn.optim import SGD

__all__ = ["LiveTrainer", "StepRecord"]

MAX_HISTORY = 100_000
"""Steps of loss history kept (the oldest are dropped): hours of training at full speed."""


@dataclass
class StepRecord:
    step: int
    loss: float
    accuracy: float  # on the step's batch
    test_accuracy: float | None = None  # on the evaluation images, every few steps


class LiveTrainer:
    """SGD on ``model`` from ``train_set``, one step at a time, in a daemon thread.

    Args:
        model: the network (trained in place; it is the explorer's copy).
        lock: held around every use of ``model`` (its layers cache their inputs, so one
            pass at a time).
        train_set: yields normalised ``(images, labels)`` batches through a DataLoader.
        evaluation: ``(images, labels)`` scored every ``evaluate_every`` steps, or None.
        lr, momentum, batch_size: SGD's settings; change them with :meth:`configure`.
        seed: the order of the training batches.
        pause_seconds: rest between steps, so that requests waiting for the lock get it.
    """

    def __init__(self, model: Module, lock: threading.Lock, train_set: Dataset,
                 evaluation: tuple[np.ndarray, np.ndarray] | None = None, *,
                 lr: float = 0.01, momentum: float = 0.9, batch_size: int = 64, seed: int = 0,
                 evaluate_every: int = 50, pause_seconds: float = 0.002):
        self.model = model
        self.lock = lock
        self.train_set = train_set
        self.evaluation = evaluation
        self.evaluate_every = evaluate_every
        self.pause_seconds = pause_seconds
        self.seed = seed
        self.lr, self.momentum, self.batch_size = lr, momentum, batch_size
        self.loss_fn = CrossEntropyLoss()
        self.history: list[StepRecord] = []
        self.steps = 0  # steps taken since the last reset
        self.version = 0  # changes whenever the weights do (a step, a reset)
        self.error: str | None = None
        self._running = False
        self._pending = 0
        self._stepping = False  # a step is under way
        self._closed = False
        self._wake = threading.Condition()
        self._new_optimizer()
        self._new_loader()
        self._thread = threading.Thread(target=self._run, name="minicnn-explore-train",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        """Whether steps are being taken or are still to come."""
        return self._running or self._pending > 0 or self._stepping

    def start(self) -> None:
        with self._wake:
            self.error = None
            self._running = True
            self._wake.notify()

    def pause(self) -> None:
        with self._wake:
            self._running = False
            self._pending = 0

    def step(self, count: int = 1) -> None:
        """Take ``count`` more steps (then stop, unless started)."""
        with self._wake:
            self.error = None
            self._pending += count
            self._wake.notify()

    def configure(self, lr: float | None = None, momentum: float | None = None,
                  batch_size: int | None = None) -> None:
        with self.lock:
            if lr is not None:
                self.lr = lr
            if momentum is not None:
                self.momentum = momentum
            for group in self.optimizer.param_groups:
                group["lr"], group["momentum"] = self.lr, self.momentum
            if batch_size is not None and batch_size != self.batch_size:
                self.batch_size = batch_size
                self._new_loader()

    def reset(self) -> None:
        """Forget the optimiser's momentum and the loss history (the caller has just put
        other weights in the model)."""
        self.pause()
        with self.lock:
            self._new_optimizer()
            self._new_loader()
            self.history = []
            self.steps = 0
            self.version += 1
            self.error = None

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after the step in progress."""
        with self._wake:
            self._closed = True
            self._running = False
            self._pending = 0
            self._wake.notify()
        self._thread.join(timeout)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no step is pending or running (for tests and notebooks)."""
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.running

    def records_since(self, step: int) -> list[StepRecord]:
        """The history after ``step`` (the page asks for what it has not drawn yet)."""
        with self.lock:
            return [record for record in self.history if record.step > step]

    # ------------------------------------------------------------------ the thread
    def _new_optimizer(self) -> None:
        self.optimizer = SGD(list(self.model.parameters()), lr=self.lr, momentum=self.momentum)

    def _new_loader(self) -> None:
        self.loader = DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                                 generator=self.seed + self.steps)
        self._batches = iter(self.loader)

    def _next_batch(self):
        try:
            return next(self._batches)
        except StopIteration:  # an epoch is over: a new shuffle
            self._batches = iter(self.loader)
            return next(self._batches)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._closed or self._running or self._pending):
                    self._wake.wait()
                if self._closed:
                    return
                if self._pending:
                    self._pending -= 1
                self._stepping = True
            try:
                self._one_step()
            except Exception as error:  # the server keeps serving; the page shows why
                self.pause()
                self.error = f"training stopped: {type(error).__name__}: {error}"
            finally:
                self._stepping = False
            time.sleep(self.pause_seconds)

    def _one_step(self) -> None:
        with self.lock, thread_blas():
            images, labels = self._next_batch()
            self.model.train()
            try:
                self.optimizer.zero_grad()
                logits = self.model(images)
                loss = float(self.loss_fn(logits, labels))
                if not math.isfinite(loss):
                    self.pause()
                    self.error = (f"the loss is {loss} at step {self.steps + 1}: the step was "
                                  "not taken; lower the learning rate or reset the weights")
                    return
                self.model.backward(self.loss_fn.backward())
                self.optimizer.step()
                self.optimizer.zero_grad()
            finally:
                self.model.eval()
            self.steps += 1
            self.version += 1
            accuracy = float(np.mean(logits.argmax(axis=1) == labels))
            record = StepRecord(self.steps, loss, accuracy)
            if self.evaluation is not None and self.steps % self.evaluate_every == 0:
                images, labels = self.evaluation
                predictions = self.model(images).argmax(axis=1)
                record.test_accuracy = float(np.mean(predictions == labels))
            self.history.append(record)
            del self.history[:-MAX_HISTORY]
