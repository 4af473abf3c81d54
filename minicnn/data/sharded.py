"""ShardedDataLoader: one rank's share of every batch of a DataLoader, for data parallelism.

Every rank builds the same loader (same dataset, batch size and seed), so every rank draws the
same order of samples, the order one process would use: the *global* batches are those of a
plain :class:`~minicnn.data.DataLoader`. Each rank then fetches only its share of each global
batch, rows :func:`shard_bounds` of it: disjoint, covering the batch, in rank order, sizes
differing by at most one (a batch of 10 on 3 ranks: 4, 3, 3; the last batch of an epoch may
leave a rank with none). The loader's state (epoch, batches done, generator) is that of the
global loader, so a checkpoint written with N ranks resumes with any other number.

A random augmentation (a dataset that :func:`~minicnn.data.dataset.needs_generator`) is drawn
for the global batch: each rank's dataset gets a
:class:`~minicnn.data.transforms.BatchShare` of the batch's generator, draws the parameters
of the whole batch from it and applies its share's, so every image gets the crop and flip it
would get in one process, whatever the number of ranks.
"""

from __future__ import annotations

import numbers

import numpy as np

from minicnn.data.dataloader import DataLoader
from minicnn.data.dataset import fetch_batch
from minicnn.data.transforms.base import BatchShare

__all__ = ["ShardedDataLoader", "shard_bounds"]


def shard_bounds(count: int, rank: int, num_replicas: int) -> tuple[int, int]:
    """``(start, end)``: the rows of ``count`` that rank ``rank`` of ``num_replicas`` takes.

    The first ``count % num_replicas`` ranks take one row more than the others (as
    ``numpy.array_split``), so the shares are contiguous, in rank order and cover every row.
    """
    base, extra = divmod(count, num_replicas)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class ShardedDataLoader(DataLoader):
    """A :class:`~minicnn.data.DataLoader` that yields rank ``rank``'s share of each batch.

    Args:
        dataset, batch_size, shuffle, drop_last, generator, collate_fn: as for
            :class:`~minicnn.data.DataLoader`; ``batch_size`` is the *global* batch, summed
            over the ranks.
        rank: this process's number, in ``[0, num_replicas)``.
        num_replicas: the number of ranks sharing each batch.

    ``len(loader)`` is the number of global batches per epoch, the same on every rank. A share
    may be empty (a last batch smaller than ``num_replicas``): it is yielded as arrays with
    no rows, so every rank still takes every step.

    Example::

        loader = ShardedDataLoader(train_set, batch_size=64, shuffle=True, generator=0,
                                   rank=comm.rank, num_replicas=comm.size)
        for images, labels in loader:  # 32 of each 64 on each of 2 ranks
            ...
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator=None, collate_fn=None, *, rank: int,
                 num_replicas: int):
        super().__init__(dataset, batch_size, shuffle, drop_last, generator, collate_fn)
        for name, value in (("rank", rank), ("num_replicas", num_replicas)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError(f"ShardedDataLoader: {name} must be an int, got {value!r}")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"ShardedDataLoader: expected 0 <= rank < num_replicas, got rank "
                             f"{rank} of num_replicas {num_replicas}")
        self.rank = int(rank)
        self.num_replicas = int(num_replicas)

    def _fetch(self, indices: np.ndarray, generator: np.random.Generator | None):
        start, end = shard_bounds(len(indices), self.rank, self.num_replicas)
        if end > start:
            if generator is not None:
                # The whole batch's random draws, this share's rows of them: each image is
                # augmented as one process would augment it.
                generator = BatchShare(generator, start, end, len(indices))
            return super()._fetch(indices[start:end], generator)
        # An empty share: one sample's batch cut to no rows keeps every field's shape and dtype
        # (its draws come from this batch's own generator, and are thrown away).
        batch = fetch_batch(self.dataset, indices[:1], self.collate_fn, generator)
        return tuple(field[:0] for field in batch) if isinstance(batch, tuple) else batch[:0]

    def __repr__(self) -> str:
        return (f"{super().__repr__()[:-1]}, rank={self.rank}, "
                f"num_replicas={self.num_replicas})")
