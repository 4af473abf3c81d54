"""Datasets in the spirit of ``torch.utils.data``: a base class, arrays as a dataset, subsets.

A dataset is anything with ``len(dataset)`` and ``dataset[i] -> sample``, a sample being a tuple
such as ``(image, label)``. A dataset may also offer ``get_batch(indices)``, which returns the
whole batch at once, already stacked: ``(images (B, ...), labels (B,))``. The
:class:`~minicnn.data.dataloader.DataLoader` uses it when it is there, so a dataset held in one
array (MNIST) is batched with one fancy-indexing operation instead of B Python calls.

A dataset whose batches are random (a random augmentation, see
:mod:`minicnn.data.transforms`) says so with ``needs_generator`` (true) and takes
``get_batch(indices, generator)``: the loader then hands it, for each batch, a generator of
its own derived from the loader's shuffling state, so the augmentation repeats under a seed
and a resumed run draws what an uninterrupted one would have.
"""

from __future__ import annotations

import abc
import numbers
from collections.abc import Sequence

import numpy as np

from minicnn import random as minicnn_random

__all__ = [
    "ArrayDataset",
    "Dataset",
    "Subset",
    "default_collate",
    "fetch_batch",
    "needs_generator",
    "random_split",
]


def as_generator(generator, owner: str) -> np.random.Generator:
    """``None`` -> minicnn's global generator; an int -> a new generator seeded with it."""
    if generator is None:
        return minicnn_random.default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"{owner}: generator must be None, an int seed or a numpy.random.Generator, got "
        f"{type(generator).__name__}"
    )


def default_collate(samples: Sequence):
    """Stack a list of samples into one batch, field by field.

    ``[(x_0, y_0), ..., (x_{B-1}, y_{B-1})] -> (stack(x) (B, ...), array(y) (B,))``. Arrays are
    stacked keeping their dtype; Python ints become int64, Python floats float64 (as in torch).

    Raises:
        ValueError: ``samples`` is empty.
        TypeError: a field is of a type that cannot be stacked.
    """
    if len(samples) == 0:
        raise ValueError("default_collate: cannot make a batch from an empty list of samples")
    first = samples[0]
    if isinstance(first, tuple | list):
        return tuple(default_collate(field) for field in zip(*samples))
    if isinstance(first, np.ndarray):
        return np.stack(samples)
    if isinstance(first, np.generic):
        return np.asarray(samples, dtype=first.dtype)
    if isinstance(first, bool):
        return np.asarray(samples, dtype=np.bool_)
    if isinstance(first, numbers.Integral):
        return np.asarray(samples, dtype=np.int64)
    if isinstance(first, numbers.Real):
        return np.asarray(samples, dtype=np.float64)
    raise TypeError(
        f"default_collate: samples must be arrays, numbers or tuples of them, got "
        f"{type(first).__name__}; pass a collate_fn that knows how to batch them"
    )


def needs_generator(dataset) -> bool:
    """Whether ``dataset``'s batches are random: its ``needs_generator`` attribute, else False."""
    return bool(getattr(dataset, "needs_generator", False))


def fetch_batch(dataset, indices: np.ndarray, collate_fn=None,
                generator: np.random.Generator | None = None):
    """The samples at ``indices`` as one batch: ``dataset.get_batch`` if it has one (and no
    ``collate_fn`` is given), else ``collate_fn`` (default :func:`default_collate`) applied to
    ``[dataset[i] for i in indices]``. ``generator`` goes to ``get_batch`` (the batch's random
    draws: a generator, or a :class:`~minicnn.data.transforms.BatchShare` of one) when the
    dataset :func:`needs_generator`."""
    if collate_fn is None and hasattr(dataset, "get_batch"):
        if generator is not None and needs_generator(dataset):
            return dataset.get_batch(indices, generator=generator)
        return dataset.get_batch(indices)
    return (collate_fn or default_collate)([dataset[int(i)] for i in indices])


class Dataset(abc.ABC):
    """Base class of map-style datasets: ``len(dataset)`` samples, ``dataset[i]`` for each.

    Subclasses implement ``__len__`` and ``__getitem__``; they may override :meth:`get_batch`
    with a vectorised version.
    """

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of samples."""

    @abc.abstractmethod
    def __getitem__(self, index: int):
        """The sample at ``index``, e.g. a tuple ``(image, label)``."""

    def get_batch(self, indices: np.ndarray):
        """The samples at ``indices`` (a 1-D integer array), stacked by :func:`default_collate`."""
        return default_collate([self[int(i)] for i in indices])


class ArrayDataset(Dataset):
    """Arrays that share their first dimension, as a dataset (torch's ``TensorDataset``).

    ``ArrayDataset(images, labels)[i] == (images[i], labels[i])``; batches are fetched by fancy
    indexing, keeping each array's dtype.

    Args:
        *arrays: one or more arrays of shape ``(N, ...)``.

    Raises:
        ValueError: no array is given, or their first dimensions differ.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset: expected at least one array, got none")
        self.arrays = tuple(np.asarray(array) for array in arrays)
        lengths = [array.shape[0] if array.ndim else None for array in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = ", ".join(str(array.shape) for array in self.arrays)
            raise ValueError(
                f"ArrayDataset: every array needs the same first dimension (one entry per "
                f"sample), got shapes {shapes}"
            )

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int):
        return tuple(array[index] for array in self.arrays)

    def get_batch(self, indices: np.ndarray):
        indices = np.asarray(indices)
        return tuple(array[indices] for array in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{array.dtype}{list(array.shape)}" for array in self.arrays)
        return f"ArrayDataset({shapes})"


def _as_index_array(indices, length: int, owner: str) -> np.ndarray:
    """``indices`` as a 1-D int64 array, each in ``[0, length)``."""
    array = np.asarray(indices)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{owner}: indices must be a 1-D sequence of integers, got an array of shape "
            f"{array.shape} and dtype {array.dtype}"
        )
    if array.min() < 0 or array.max() >= length:
        raise ValueError(
            f"{owner}: indices must lie in [0, {length - 1}] for a dataset of {length} samples, "
            f"got values from {array.min()} to {array.max()}"
        )
    return array.astype(np.int64, copy=False)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    ``Subset(dataset, indices)[i] == dataset[indices[i]]``; batches go through the parent's
    ``get_batch`` when it has one.

    Raises:
        TypeError: ``indices`` is not a 1-D sequence of integers.
        ValueError: an index is outside ``[0, len(dataset))``.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _as_index_array(indices, len(dataset), "Subset")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        return self.dataset[int(self.indices[index])]

    @property
    def needs_generator(self) -> bool:
        return needs_generator(self.dataset)

    def get_batch(self, indices: np.ndarray, generator: np.random.Generator | None = None):
        return fetch_batch(self.dataset, self.indices[np.asarray(indices)], generator=generator)

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} of {len(self.dataset)} samples)"


def random_split(dataset, lengths: Sequence, generator=None) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    Args:
        dataset: the dataset to split.
        lengths: sample counts summing to ``len(dataset)``, or fractions summing to 1; as in
            torch, fractions are rounded down and the samples left over are given one each to
            the subsets in turn.
        generator: ``None`` (minicnn's global generator), an int seed or a
            ``numpy.random.Generator``.

    Returns:
        One :class:`Subset` per length.

    Raises:
        ValueError: the lengths are negative or do not add up.
    """
    total = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(length, float) for length in lengths):
        if any(length < 0 for length in lengths) or not np.isclose(sum(lengths), 1.0):
            raise ValueError(
                f"random_split: fractions must be non-negative and sum to 1, got {lengths}"
            )
        counts = [int(np.floor(total * fraction)) for fraction in lengths]
        for i in range(total - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        counts = [int(length) for length in lengths]
        if any(count < 0 for count in counts) or sum(counts) != total:
            raise ValueError(
                f"random_split: lengths must be non-negative and sum to the dataset's {total} "
                f"samples, got {lengths} (sum {sum(counts)})"
            )
    order = as_generator(generator, "random_split").permutation(total)
    ends = np.cumsum(counts)
    return [Subset(dataset, order[end - count : end]) for count, end in zip(counts, ends)]
