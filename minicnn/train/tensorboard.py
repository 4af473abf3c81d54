"""TensorBoard logging of a training run, through the Trainer's ``on_step``/``on_epoch`` hooks.

::

    from minicnn.train.tensorboard import TensorBoardLogger

    with TensorBoardLogger.for_trainer(trainer) as logger:   # writes RUN_DIR/tensorboard
        trainer.fit(on_step=logger.on_step, on_epoch=logger.on_epoch)
    # then: tensorboard --logdir RUN_DIR/tensorboard

What is written (``minicnn train --tensorboard`` does the same) is below. Every point's step
is the number of optimiser steps taken so far (epoch ``e`` ends at step ``e *
steps_per_epoch``), so the batch curves and the epoch curves share one x axis.

======================================  =========================================================
tag                                     what
======================================  =========================================================
``batch/loss``, ``batch/accuracy``      one batch's, every ``log_every`` steps
``batch/lr``, ``batch/images_per_sec``  the rate now; training throughput since the last point
``train/loss``, ``train/accuracy``      means over the epoch (at each epoch's end)
``test/loss``, ``test/accuracy``        on the test set at the epoch's end
``lr``, ``images_per_second``           per epoch, as in ``metrics.jsonl``
``parameters/<name>``                   histogram of every parameter, per epoch
``gradients/<name>``                    histogram of its gradient (the epoch's last batch)
``filters/<conv name>``                 image: the first convolution's kernels (RGB ones
                                        in colour)
``feature_maps/<conv name>``            image: every convolution's maps for test image 0
``mistakes``                            image: the first misclassified test images; the text
                                        ``mistakes`` lists them (true -> predicted)
======================================  =========================================================

A resumed run continues the same event folder: its writer starts with a ``purge_step`` at the
checkpoint's step, so TensorBoard drops whatever an interrupted epoch had logged after it.

The writer is tensorboardX's ``SummaryWriter`` (maintained, writes the event-file protobufs);
:class:`TensorBoardLogger` only decides what to write and when, so a notebook can use the
same writer for its own scalars (``logger.writer.add_scalar(...)``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from minicnn.data.dataset import fetch_batch
from minicnn.nn.conv import Conv2d
from minicnn.nn.module import Module
from minicnn.viz.feature_maps import capture_feature_maps
from minicnn.viz.filters import first_conv
from minicnn.viz.grid import tile_images

__all__ = ["SummaryWriter", "TensorBoardLogger"]


def SummaryWriter(log_dir: str | os.PathLike, **options):  # noqa: N802 - stands for the class
    """tensorboardX's ``SummaryWriter(log_dir)``, imported without importing PyTorch.

    tensorboardX imports ``torch`` at import time whenever it is installed (to accept
    tensors), which costs about a second and would make minicnn depend on PyTorch at run time.
    Every array minicnn logs is a NumPy array, so while tensorboardX is first imported
    ``torch`` is made unimportable; if the program has already imported torch, nothing is
    hidden. Takes tensorboardX's keyword options (``flush_secs``, ``max_queue``, ...).
    """
    if "tensorboardX" not in sys.modules and "torch" not in sys.modules:
        sys.modules["torch"] = None  # makes ``import torch`` raise ImportError
        try:
            import tensorboardX
        finally:
            del sys.modules["torch"]
    import tensorboardX

    return tensorboardX.SummaryWriter(logdir=str(log_dir), **options)


class TensorBoardLogger:
    """Writes a run's scalars, histograms and images to TensorBoard event files.

    Args:
        log_dir: folder of the event files (created if missing).
        model: the network being trained.
        steps_per_epoch: batches per epoch, to number the ``batch/*`` points across epochs.
        first_epoch: epochs already done (a resumed run continues its curves).
        first_step: steps of the current epoch already done (a run resumed mid-epoch).
        test_set: the dataset the test figures come from (images for feature maps and
            mistakes, in the order ``evaluate`` saw them); ``None`` skips those images.
        optimizer: read for ``batch/lr`` (per-step schedules change the rate inside an epoch).
        log_every: write the ``batch/*`` scalars every this many steps (and on an epoch's
            last step).
        mistakes: how many misclassified test digits to show.
    """

    def __init__(self, log_dir: str | os.PathLike, model: Module, steps_per_epoch: int,
                 first_epoch: int = 0, test_set=None, optimizer=None, log_every: int = 10,
                 mistakes: int = 16, first_step: int = 0):
        if steps_per_epoch < 1 or log_every < 1:
            raise ValueError(f"TensorBoardLogger: steps_per_epoch and log_every must be "
                             f"positive, got {steps_per_epoch} and {log_every}")
        self.log_dir = Path(log_dir)
        self.model = model
        self.steps_per_epoch = steps_per_epoch
        self.epoch = first_epoch  # epochs finished so far
        self.test_set = test_set
        self.optimizer = optimizer
        self.log_every = log_every
        self.mistakes = mistakes
        # Resuming: points past the checkpoint (epoch and step) came from a process that died.
        resumed_at = first_epoch * steps_per_epoch + first_step
        purge_step = resumed_at + 1 if resumed_at > 0 else None
        # The file name's timestamp has whole seconds: the suffix (the global step this writer
        # starts from) keeps a run resumed within the same second, even mid-epoch, from
        # overwriting the earlier file, and sorts it after that file.
        self.writer = SummaryWriter(self.log_dir, purge_step=purge_step,
                                    filename_suffix=f".from-step-{resumed_at:010d}")
        # Throughput between two batch/* points: images and wall-clock time since the last.
        self._window_images = 0
        self._window_start = time.perf_counter()

    @classmethod
    def for_trainer(cls, trainer, log_dir: str | os.PathLike | None = None,
                    **options) -> TensorBoardLogger:
        """A logger for a Trainer's model and data, writing to ``RUN_DIR/tensorboard``."""
        return cls(trainer.run_dir.path / "tensorboard" if log_dir is None else log_dir,
                   trainer.model, steps_per_epoch=len(trainer.train_loader),
                   first_epoch=trainer.epochs_done, first_step=trainer.progress.steps,
                   test_set=trainer.test_set,
                   optimizer=trainer.optimizer, **options)

    # ------------------------------------------------------------------ callbacks
    def on_step(self, step: int, loss: float, accuracy: float, batch_size: int) -> None:
        """The Trainer's ``on_step``: batch scalars every ``log_every`` steps."""
        self._window_images += batch_size
        last_of_epoch = step + 1 == self.steps_per_epoch
        if (step + 1) % self.log_every and not last_of_epoch:
            return
        global_step = self.epoch * self.steps_per_epoch + step + 1
        now = time.perf_counter()
        seconds = now - self._window_start
        self.writer.add_scalar("batch/loss", loss, global_step)
        self.writer.add_scalar("batch/accuracy", accuracy, global_step)
        if self.optimizer is not None:
            self.writer.add_scalar("batch/lr", self.optimizer.param_groups[0]["lr"], global_step)
        if seconds > 0:
            self.writer.add_scalar("batch/images_per_sec", self._window_images / seconds,
                                   global_step)
        self._window_images = 0
        self._window_start = now

    def on_epoch(self, report) -> None:
        """The Trainer's ``on_epoch`` (an :class:`~minicnn.train.trainer.EpochReport`)."""
        self.epoch = report.epoch
        step = self.epoch * self.steps_per_epoch
        add_scalar = self.writer.add_scalar
        add_scalar("train/loss", report.train.loss, step)
        add_scalar("train/accuracy", report.train.accuracy, step)
        add_scalar("test/loss", report.test.loss, step)
        add_scalar("test/accuracy", report.test.accuracy, step)
        add_scalar("lr", report.lr, step)
        add_scalar("images_per_second", report.train.images_per_second, step)
        self.log_histograms(step)
        self.log_filters(step)
        if self.test_set is not None and len(self.test_set) > 0:
            self.log_feature_maps(fetch_batch(self.test_set, np.array([0]))[0][0], step)
            self.log_mistakes(report.test.predictions, report.test.targets, step)
        self.writer.flush()
        # The evaluation is not training throughput: start the next window afresh.
        self._window_images = 0
        self._window_start = time.perf_counter()

    # ------------------------------------------------------------------ what is written
    def log_histograms(self, step: int) -> None:
        """``parameters/<name>`` and ``gradients/<name>`` for every parameter.

        The gradients are those of the epoch's last batch (the optimiser clears them only at
        the start of the next step); a parameter without one is skipped.
        """
        for name, parameter in self.model.named_parameters():
            self.writer.add_histogram(f"parameters/{name}", parameter.data, step)
            if parameter.grad is not None:
                self.writer.add_histogram(f"gradients/{name}", parameter.grad, step)

    def log_filters(self, step: int) -> None:
        """The first convolution's kernels, one tile per ``(out, in)`` pair, zoomed 8x."""
        names = {id(module): name for name, module in self.model.named_modules()}
        try:
            conv = first_conv(self.model)
        except ValueError:  # a network without convolutions has no filters to show
            return
        weight = conv.weight.data
        if weight.shape[1] == 3:  # a kernel on RGB input is a small colour image
            grid = tile_images(weight, zoom=8)
        else:
            grid = tile_images(weight.reshape(-1, *weight.shape[2:]), columns=weight.shape[0],
                               zoom=8)
        self.writer.add_image(f"filters/{names[id(conv)]}", grid, step,
                              dataformats="HWC" if grid.ndim == 3 else "HW")

    def log_feature_maps(self, image: np.ndarray, step: int) -> None:
        """Every convolution's output for ``image`` (``(C, H, W)``), one grid per layer."""
        for name, output in capture_feature_maps(self.model, image, (Conv2d,)).items():
            self.writer.add_image(f"feature_maps/{name}", tile_images(output, zoom=4), step,
                                  dataformats="HW")

    def log_mistakes(self, predictions: np.ndarray, targets: np.ndarray, step: int) -> None:
        """The first ``mistakes`` misclassified test images as a grid, and their labels as text.

        The first by index, not the most confident (the evaluation keeps no probabilities):
        the grid then changes only as the set of mistakes does, so it can be followed across
        epochs.
        """
        wrong = np.flatnonzero(np.asarray(predictions) != np.asarray(targets))[: self.mistakes]
        if len(wrong) == 0:
            self.writer.add_text("mistakes", "no test image misclassified", step)
            return
        grid = tile_images(fetch_batch(self.test_set, wrong)[0], columns=8, zoom=2)
        self.writer.add_image("mistakes", grid, step,
                              dataformats="HWC" if grid.ndim == 3 else "HW")
        listing = ", ".join(f"#{index}: {targets[index]} \u2192 {predictions[index]}"
                            for index in wrong)
        self.writer.add_text("mistakes", f"true \u2192 predicted, row by row: {listing}", step)

    # ------------------------------------------------------------------ closing
    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
