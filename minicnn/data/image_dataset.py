"""ImageDataset: what MNIST and CIFAR share, labelled uint8 images held in memory.

The images stay as they are stored, uint8, and become floats in [0, 1] per batch: one
fancy-indexing operation picks the batch (:meth:`ImageDataset.get_batch`), one conversion
scales it, and the transform runs once on the whole batch. A random transform (augmentation)
draws from the generator the :class:`~minicnn.data.dataloader.DataLoader` hands each batch.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np

from minicnn.data.dataset import Dataset
from minicnn.data.download import default_cache_dir, mirrors_from_env
from minicnn.data.transforms.base import is_random

__all__ = ["ImageDataset"]


class ImageDataset(Dataset):
    """Base class of the image datasets: ``images`` uint8, ``targets`` int64, a transform.

    Subclasses set the class attributes and, in ``__init__``, call
    ``super().__init__(root, train, transform, dtype, mirrors)`` and then fill ``images``
    (``(N, H, W)`` for one channel, or ``(N, C, H, W)``) and ``targets``.

    Attributes:
        dataset_name: the name errors and ``repr`` start with.
        cache_subdir: the default ``root`` under minicnn's cache folder.
        mirrors_env, default_mirrors: where downloads come from.
        classes: the name of each label.
        channels: colour channels of each image (1 grey, 3 RGB).
        mean, std: the training set's per-channel statistics after scaling to [0, 1], for
            ``Normalize``.
    """

    dataset_name = "ImageDataset"
    cache_subdir = ""
    mirrors_env = ""
    default_mirrors: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    channels = 1
    mean: float | tuple[float, ...] = 0.0
    std: float | tuple[float, ...] = 1.0

    images: np.ndarray
    targets: np.ndarray

    def __init__(self, root: str | os.PathLike | None, train: bool, transform, dtype,
                 mirrors=None):
        self.root = (Path(root).expanduser() if root is not None
                     else default_cache_dir() / self.cache_subdir)
        self.train = bool(train)
        if transform is not None and not callable(transform):
            raise TypeError(
                f"{self.dataset_name}: transform must be callable, got {type(transform).__name__}"
            )
        self.transform = transform
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"{self.dataset_name}: dtype must be float32 or float64, got {self.dtype}"
            )
        if isinstance(mirrors, str):
            mirrors = (mirrors,)
        self.mirrors = (
            tuple(mirrors)
            if mirrors is not None
            else mirrors_from_env(self.mirrors_env, self.default_mirrors)
        )

    @property
    def split(self) -> str:
        return "train" if self.train else "test"

    @property
    def needs_generator(self) -> bool:
        """Whether the transform is random (augmentation): then :meth:`get_batch` takes the
        generator of its draws."""
        return is_random(self.transform)

    def __len__(self) -> int:
        return len(self.targets)

    def _to_float(self, images: np.ndarray, generator=None) -> np.ndarray:
        """uint8 ``(B, H, W)`` or ``(B, C, H, W)`` -> ``dtype`` ``(B, C, H, W)`` in [0, 1],
        then ``transform``."""
        scaled = images.astype(self.dtype)
        if scaled.ndim == 3:
            scaled = scaled[:, np.newaxis]
        scaled /= 255  # in place, so the dtype stays self.dtype
        if self.transform is None:
            return scaled
        if self.needs_generator:
            return self.transform(scaled, generator)
        return self.transform(scaled)

    def __getitem__(self, index: int):
        """``(image (C, H, W) float, label int)`` of sample ``index``; a random transform
        draws from minicnn's global generator."""
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(
                f"{self.dataset_name}: index must be an int, got {type(index).__name__}; use "
                f"get_batch(indices) for many samples at once"
            )
        image = self._to_float(self.images[index][np.newaxis])[0]
        return image, int(self.targets[index])

    def get_batch(self, indices, generator: np.random.Generator | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """``(images (B, C, H, W) float, labels (B,) int64)`` of the samples at ``indices``.

        ``generator``: the source of a random transform's draws, one set per image (default:
        minicnn's global generator), or a :class:`~minicnn.data.transforms.BatchShare` (these
        images are a share of a larger batch, drawn for as a whole).
        """
        indices = np.asarray(indices)
        if indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
            raise TypeError(
                f"{self.dataset_name}.get_batch: indices must be a 1-D array of integers, got "
                f"shape {indices.shape} and dtype {indices.dtype}"
            )
        indices = indices.astype(np.intp, copy=False)
        return self._to_float(self.images[indices], generator), self.targets[indices]

    def __repr__(self) -> str:
        options = [f"split={self.split!r}", f"{len(self)} images", f"root={str(self.root)!r}"]
        if self.dtype != np.float32:
            options.append(f"dtype={self.dtype.name}")
        if self.transform is not None:
            options.append(f"transform={self.transform!r}")
        return f"{self.dataset_name}({', '.join(options)})"
