"""Where the benchmarks find MNIST, and the training set as each framework consumes it.

The folder is ``$MINICNN_MNIST_DIR`` if set, else minicnn's download cache (``<cache>/mnist``,
``<cache>`` being ``$MINICNN_CACHE_DIR`` or ``~/.cache/minicnn``), the folder ``minicnn train``
uses. :func:`fetch_mnist`, called once by the suite before any measuring process starts,
downloads the training files there if they are missing, checksummed, from the mirrors
(``$MINICNN_MNIST_MIRRORS`` or minicnn's public ones). Without them, the epoch and memory
benchmarks report their rows as not measured, with the reason.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

__all__ = ["MNIST_DIR_ENV", "MNIST_MISSING", "REPO_ROOT", "fetch_mnist", "find_mnist",
           "minicnn_mnist", "torch_mnist"]

REPO_ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR_ENV = "MINICNN_MNIST_DIR"
MNIST_MISSING = ("MNIST not found: set MINICNN_MNIST_DIR to a folder holding its IDX files, or "
                 "MINICNN_MNIST_MIRRORS to a mirror to download them from")


def _mnist_folder() -> Path:
    # minicnn is imported here, not at the top: a PyTorch worker imports torch first.
    from minicnn.data import MNIST
    from minicnn.data.download import default_cache_dir

    configured = os.environ.get(MNIST_DIR_ENV)
    return Path(configured) if configured else default_cache_dir() / MNIST.cache_subdir


def find_mnist() -> Path | None:
    """The folder holding MNIST's training files, or ``None`` (never downloads)."""
    from minicnn.data import MNIST
    from minicnn.data.download import find_local_copy

    folder = _mnist_folder()
    if all(find_local_copy(folder, remote) is not None for remote in MNIST.train_files):
        return folder
    return None


def fetch_mnist() -> str | None:
    """Make sure MNIST's training files are on disk; ``None``, or why they are not.

    With ``$MINICNN_MNIST_DIR`` set, the files must be there; otherwise they are downloaded
    into the cache as ``minicnn train`` downloads them (``MNIST(download=True)``).
    """
    from minicnn.data import MNIST

    if find_mnist() is not None:
        return None
    if os.environ.get(MNIST_DIR_ENV):
        return f"{MNIST_MISSING} ({MNIST_DIR_ENV}={os.environ[MNIST_DIR_ENV]} lacks them)"
    try:
        MNIST(train=True, download=True)
    except (OSError, ValueError) as error:
        return f"{MNIST_MISSING} ({error})"
    return None


@functools.lru_cache(maxsize=2)
def _mnist_train_set(folder: Path, normalized: bool):
    """Read (and checksum) the training files once per process: a worker asks for them often."""
    from minicnn.data.mnist import MNIST
    from minicnn.data.transforms import Normalize

    transform = Normalize(MNIST.mean, MNIST.std) if normalized else None
    return MNIST(folder, train=True, transform=transform)


def minicnn_mnist(limit: int | None = None):
    """MNIST's training set, normalised, as minicnn's ``train_epoch`` reads it.

    Args:
        limit: keep only the first ``limit`` images (``None``: all 60,000).

    Returns:
        A dataset whose ``get_batch`` yields ``(images (B, 1, 28, 28) float32, labels (B,))``.
    """
    from minicnn.data.dataset import Subset

    folder = find_mnist()
    if folder is None:
        raise FileNotFoundError(MNIST_MISSING)
    dataset = _mnist_train_set(folder, normalized=True)
    if limit is not None and limit < len(dataset):
        dataset = Subset(dataset, range(limit))
    return dataset


def torch_mnist(limit: int | None = None):
    """MNIST's training set as uint8 image and int64 label tensors ``(N, 28, 28)``, ``(N,)``.

    Read with minicnn's IDX reader (plain NumPy; the caller has already imported torch, so
    nothing minicnn does at import can change torch's threading).
    """
    import torch

    folder = find_mnist()
    if folder is None:
        raise FileNotFoundError(MNIST_MISSING)
    dataset = _mnist_train_set(folder, normalized=False)
    images, labels = dataset.images, dataset.targets
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.copy())
