"""Where the benchmarks find MNIST, and the training set as each framework consumes it.

The folder is ``$MINICNN_MNIST_DIR`` if set, else ``shared/data/mnist`` beside the repository
(the layout of this project's machines and CI). Without the files, the epoch and memory
benchmarks report their rows as not measured, with the reason.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

__all__ = ["MNIST_MISSING", "REPO_ROOT", "find_mnist", "minicnn_mnist", "torch_mnist"]

REPO_ROOT = Path(__file__).resolve().parents[1]
MNIST_MISSING = "MNIST not found: set MINICNN_MNIST_DIR"
_IMAGES_FILE = "train-images-idx3-ubyte"


def find_mnist() -> Path | None:
    """The folder holding MNIST's training files, or ``None``."""
    candidates = []
    if os.environ.get("MINICNN_MNIST_DIR"):
        candidates.append(Path(os.environ["MINICNN_MNIST_DIR"]))
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "mnist")
    for folder in candidates:
        if (folder / _IMAGES_FILE).exists() or (folder / f"{_IMAGES_FILE}.gz").exists():
            return folder
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
