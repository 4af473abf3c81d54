"""Per-channel pixel statistics of a dataset: the ``mean`` and ``std`` that ``Normalize`` takes."""

from __future__ import annotations

import numpy as np

__all__ = ["channel_statistics"]


def channel_statistics(source) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and standard deviation of each channel's pixels, scaled to [0, 1].

    ``mean[c] = sum(x) / n`` and ``std[c] = sqrt(sum((x - mean[c])**2) / n)`` over the ``n``
    pixels ``x / 255`` of channel ``c`` in every image (the population standard deviation,
    as the published CIFAR and MNIST figures are computed; with millions of pixels ``n`` and
    ``n - 1`` agree to many digits).

    The grey levels are counted first (one histogram of 256 bins per channel), and both
    moments are taken from the histogram in float64: exact sums, two passes, and no float
    copy of the images (150 MB of CIFAR-10 would be 1.2 GB in float64).

    Args:
        source: a dataset with ``.images`` (uint8), or uint8 images themselves:
            ``(N, C, H, W)``, or ``(N, H, W)`` for one channel (MNIST's layout).

    Returns:
        ``(mean, std)``, each a tuple of one float per channel.

    Raises:
        TypeError: the images are not uint8.
        ValueError: not 3 or 4 dimensions, or no pixel at all.
    """
    images = np.asarray(getattr(source, "images", source))
    if images.dtype != np.uint8:
        raise TypeError(f"channel_statistics: expected uint8 images (as stored, 0-255), got "
                        f"dtype {images.dtype}")
    if images.ndim == 3:
        images = images[:, np.newaxis]
    if images.ndim != 4 or images.size == 0:
        raise ValueError(f"channel_statistics: expected non-empty images shaped (N, C, H, W) "
                         f"or (N, H, W), got shape {images.shape}")
    levels = np.arange(256) / 255
    means, stds = [], []
    for channel in range(images.shape[1]):
        counts = np.bincount(images[:, channel].ravel(), minlength=256)
        total = counts.sum()
        mean = counts @ levels / total
        variance = counts @ (levels - mean) ** 2 / total
        means.append(float(mean))
        stds.append(float(np.sqrt(variance)))
    return tuple(means), tuple(stds)
