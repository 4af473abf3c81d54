"""Normalize: a per-channel mean and standard deviation, and the MNIST statistics it uses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from minicnn.data.transforms.base import check_images

__all__ = [
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "Normalize",
]

MNIST_MEAN = 0.1307
"""Mean pixel value of the MNIST training images, scaled to [0, 1]."""
MNIST_STD = 0.3081
"""Standard deviation of the MNIST training pixels, scaled to [0, 1]."""
FASHION_MNIST_MEAN = 0.2860
"""Mean pixel value of the Fashion-MNIST training images, scaled to [0, 1]."""
FASHION_MNIST_STD = 0.3530
"""Standard deviation of the Fashion-MNIST training pixels, scaled to [0, 1]."""


class Normalize:
    """Subtract a per-channel mean and divide by a per-channel standard deviation.

    ``out[..., c, :, :] = (images[..., c, :, :] - mean[c]) / std[c]``

    Args:
        mean: one number for every channel, or a sequence of one per channel.
        std: the same, each strictly positive.

    Shape:
        ``(C, H, W)`` or ``(N, C, H, W)`` float -> the same shape and dtype.
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(
                f"Normalize: mean and std must be numbers or 1-D sequences (one per channel), "
                f"got shapes {self.mean.shape} and {self.std.shape}"
            )
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(
                f"Normalize: mean has {len(self.mean)} channels but std has {len(self.std)}"
            )
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be strictly positive, got {self.std.tolist()}")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = check_images(self, images)
        channels = images.shape[-3]
        if max(len(self.mean), len(self.std)) not in (1, channels):
            raise ValueError(
                f"{self!r}: expected images with {max(len(self.mean), len(self.std))} channels "
                f"(axis -3), got {channels} (input shape {images.shape})"
            )
        # Cast the statistics to the images' dtype so float32 input stays float32, and shape
        # them (C, 1, 1) so they broadcast over height, width and any leading batch axis.
        mean = self.mean.astype(images.dtype).reshape(-1, 1, 1)
        std = self.std.astype(images.dtype).reshape(-1, 1, 1)
        return (images - mean) / std

    def __repr__(self) -> str:
        def show(values):
            return f"{values[0]:g}" if len(values) == 1 else str([float(v) for v in values])

        return f"Normalize(mean={show(self.mean)}, std={show(self.std)})"
