"""Transforms applied to images after they are scaled to [0, 1] (torchvision's, for arrays).

A transform is a callable on a float array shaped ``(C, H, W)`` (one image) or ``(N, C, H, W)``
(a batch): channels are always axis ``-3`` and any leading axes are samples. That is what lets
a dataset apply the transform once to a whole batch instead of once per image. Transforms keep
the input's dtype (float32 stays float32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "Compose",
    "Lambda",
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


class Compose:
    """Apply ``transforms`` one after the other.

    Args:
        transforms: callables, each taking and returning an array.
    """

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)
        for transform in self.transforms:
            if not callable(transform):
                raise TypeError(
                    f"Compose: every transform must be callable, got {type(transform).__name__}"
                )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        for transform in self.transforms:
            images = transform(images)
        return images

    def __repr__(self) -> str:
        lines = "".join(f"    {transform!r}\n" for transform in self.transforms)
        return f"Compose(\n{lines})"


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
        images = np.asarray(images)
        if images.ndim < 3 or not np.issubdtype(images.dtype, np.floating):
            raise ValueError(
                f"{self!r}: expected float images shaped (C, H, W) or (N, C, H, W), got shape "
                f"{images.shape} and dtype {images.dtype}"
            )
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


class Lambda:
    """Wrap a function as a transform (it must accept single images and batches alike)."""

    def __init__(self, function: Callable[[np.ndarray], np.ndarray]):
        if not callable(function):
            raise TypeError(f"Lambda: expected a callable, got {type(function).__name__}")
        self.function = function

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.function(images)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.function, '__name__', repr(self.function))})"
