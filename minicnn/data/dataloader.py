"""DataLoader: batches of a dataset, in order or shuffled, resumable mid-epoch.

Shuffling draws one permutation per epoch from a ``numpy.random.Generator`` that the loader
owns (or is given). Because the order of an epoch is fixed by the generator's state at the
start of that epoch, saving that state, the epoch number and the number of batches already
handed out is enough to resume an interrupted run with exactly the batches it would have seen:
see :meth:`DataLoader.state_dict`.

Random augmentation rides on the same state. For a dataset that
:func:`~minicnn.data.dataset.needs_generator`, the loader draws one more number right after
the epoch's permutation, the epoch's *batch seed*, and gives batch ``b`` its own generator
``default_rng(SeedSequence(batch_seed, spawn_key=(b,)))``. Batch ``b``'s crops and flips thus
depend only on the epoch's starting state and ``b``: a run resumed at batch ``b`` draws them
as the uninterrupted run did, without replaying the batches before it. A dataset without
random batches draws nothing more, so its shuffling is what it always was.
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from minicnn.data.dataset import as_generator, fetch_batch, needs_generator

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader`` does (one process).

    Each iteration is one epoch and yields what the dataset's ``get_batch`` returns (for MNIST,
    ``(images (B, 1, 28, 28) float, labels (B,) int64)``), or, for a dataset without
    ``get_batch``, its samples stacked by ``collate_fn``.

    Args:
        dataset: anything with ``len()`` and ``[i]``; ``get_batch(indices)`` is used when present
            (``get_batch(indices, generator)`` when the dataset ``needs_generator``: a random
            augmentation, seeded per batch from this loader's generator).
        batch_size: samples per batch; the last batch of an epoch may be smaller.
        shuffle: draw a new random order at the start of each epoch.
        drop_last: drop the last batch of an epoch if it is smaller than ``batch_size``.
        generator: the source of the shuffling (and of the augmentation's per-batch
            generators): an int seed, a ``numpy.random.Generator`` (used,
            and advanced, as it is) or ``None`` for a generator seeded from minicnn's global one
            (so that ``minicnn.random.manual_seed`` makes the order repeat).
        collate_fn: how to stack a list of samples; given, it replaces the dataset's
            ``get_batch``. Default :func:`~minicnn.data.dataset.default_collate`.

    Example::

        loader = DataLoader(MNIST(train=True), batch_size=64, shuffle=True, generator=0)
        for images, labels in loader:  # images (64, 1, 28, 28) float32, labels (64,) int64
            ...
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator=None,
        collate_fn=None,
    ):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        if generator is None:
            # A private stream, seeded from the global generator: reproducible under
            # manual_seed, yet its state belongs to this loader alone and can be checkpointed.
            seed = int(as_generator(None, "DataLoader").integers(2**63))
            generator = np.random.default_rng(seed)
        self.generator = as_generator(generator, "DataLoader")
        self._epoch = 0
        self._batches_done = 0
        # Generator state from which the current (or next) epoch's order is drawn; None means
        # "the generator's present state".
        self._epoch_start_state: dict | None = None
        self._resume_pending = False
        # Each __iter__ gets a number; an older iterator that is still alive stops quietly
        # instead of corrupting the bookkeeping of the newer one.
        self._active_iteration = 0

    @property
    def epoch(self) -> int:
        """The number of epochs finished (or abandoned) so far: the index of the current one."""
        return self._epoch

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return math.ceil(len(self.dataset) / self.batch_size)

    def _start_epoch(self) -> tuple[np.ndarray, int | None]:
        """The current epoch's sample order and batch seed (None when the batches are not
        random), drawn from the recorded generator state."""
        if self._epoch_start_state is None:
            self._epoch_start_state = copy.deepcopy(self.generator.bit_generator.state)
        else:
            self.generator.bit_generator.state = copy.deepcopy(self._epoch_start_state)
        if self.shuffle:
            order = self.generator.permutation(len(self.dataset))
        else:
            order = np.arange(len(self.dataset))
        batch_seed = None
        if self.collate_fn is None and needs_generator(self.dataset):
            batch_seed = int(self.generator.integers(2**63))
        return order, batch_seed

    @staticmethod
    def batch_generator(batch_seed: int, batch_index: int) -> np.random.Generator:
        """The generator of batch ``batch_index`` of an epoch whose batch seed is
        ``batch_seed``: independent streams per batch, by NumPy's ``SeedSequence`` spawning."""
        return np.random.default_rng(np.random.SeedSequence(batch_seed, spawn_key=(batch_index,)))

    def _finish_epoch(self) -> None:
        self._epoch += 1
        self._batches_done = 0
        self._epoch_start_state = None

    def __iter__(self):
        if self._resume_pending:
            self._resume_pending = False
        elif self._epoch_start_state is not None:
            self._finish_epoch()  # the previous iteration was abandoned part-way
        self._active_iteration += 1
        return self._iterate(self._active_iteration)

    def _iterate(self, iteration: int):
        if iteration != self._active_iteration:
            return
        order, batch_seed = self._start_epoch()
        for batch_index in range(self._batches_done, len(self)):
            indices = order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
            generator = None
            if batch_seed is not None:
                generator = self.batch_generator(batch_seed, batch_index)
            batch = self._fetch(indices, generator)
            # Count the batch as done before handing it out: a checkpoint taken while the
            # caller holds it resumes after it.
            self._batches_done = batch_index + 1
            yield batch
            if iteration != self._active_iteration:
                return  # a newer iteration (or load_state_dict) took over the bookkeeping
        self._finish_epoch()

    def _fetch(self, indices: np.ndarray, generator: np.random.Generator | None):
        """The batch of these sample indices, its random draws from ``generator`` (a subclass
        may take only a share of them)."""
        return fetch_batch(self.dataset, indices, self.collate_fn, generator)

    def state_dict(self) -> dict:
        """The shuffling state, enough to resume exactly where the loader is.

        Returns:
            A dict of plain Python values: ``epoch`` (epochs finished), ``batches_done``
            (batches of the current epoch already handed out) and ``generator_state`` (the
            generator's ``bit_generator.state`` from which the current epoch's order is drawn).
        """
        if self._epoch_start_state is not None:
            generator_state = self._epoch_start_state
        else:
            generator_state = self.generator.bit_generator.state
        return {
            "epoch": self._epoch,
            "batches_done": self._batches_done,
            "generator_state": copy.deepcopy(generator_state),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`: the next iteration yields the batches that were left.

        Raises:
            ValueError: ``state`` lacks a key, or its ``batches_done`` exceeds ``len(self)``.
        """
        missing = {"epoch", "batches_done", "generator_state"} - set(state)
        if missing:
            raise ValueError(f"DataLoader.load_state_dict: state is missing {sorted(missing)}")
        batches_done = int(state["batches_done"])
        if not 0 <= batches_done <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: batches_done must lie in [0, {len(self)}] for "
                f"this loader's {len(self)} batches per epoch, got {batches_done}"
            )
        self.generator.bit_generator.state = copy.deepcopy(state["generator_state"])
        self._epoch = int(state["epoch"])
        self._batches_done = batches_done
        self._epoch_start_state = copy.deepcopy(state["generator_state"]) if batches_done else None
        self._resume_pending = True
        self._active_iteration += 1

    def __repr__(self) -> str:
        options = [f"batch_size={self.batch_size}"]
        if self.shuffle:
            options.append("shuffle=True")
        if self.drop_last:
            options.append("drop_last=True")
        return f"DataLoader({self.dataset!r}, {', '.join(options)})"
