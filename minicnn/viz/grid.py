"""Tile a stack of images into one array: the picture of many filters or feature maps."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["scale_to_unit", "tile_images"]


def scale_to_unit(images: np.ndarray) -> np.ndarray:
    """Scale each image of ``(N, H, W)`` (or ``(N, C, H, W)``) to ``[0, 1]`` by its own
    minimum and maximum (over all its channels at once, so a colour keeps its hue).

    Each image separately, because a filter or feature map is read by its pattern, not its
    scale (one layer's activations may be 100x another's). A constant image becomes 0.5 (grey)
    rather than a division by zero.
    """
    images = np.asarray(images, dtype=np.float64)
    axes = tuple(range(1, images.ndim))
    low = images.min(axis=axes, keepdims=True)
    high = images.max(axis=axes, keepdims=True)
    span = high - low
    scaled = np.where(span > 0, (images - low) / np.where(span > 0, span, 1.0), 0.5)
    return scaled.astype(np.float32)


def tile_images(images: np.ndarray, columns: int | None = None, padding: int = 1,
                pad_value: float = 1.0, zoom: int = 1) -> np.ndarray:
    """Arrange ``(N, H, W)`` images in a grid, each scaled to ``[0, 1]``.

    Args:
        images: ``(N, H, W)`` (any real dtype), ``(N, 1, H, W)``, or ``(N, 3, H, W)`` RGB
            (a colour grid).
        columns: images per row; default ``ceil(sqrt(N))`` (a near-square grid).
        padding: pixels of ``pad_value`` between images and around the grid.
        pad_value: the separator's value (1.0: white).
        zoom: each pixel becomes a ``zoom x zoom`` block (a 5x5 kernel is a speck on screen).

    Returns:
        float32 ``(rows*(zoom*H + padding) + padding, columns*(zoom*W + padding) + padding)``
        with ``rows = ceil(N / columns)``, and a last axis of 3 for RGB images (``"HWC"``);
        unused cells of the last row hold ``pad_value``.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    colour = images.ndim == 4 and images.shape[1] == 3
    if not (images.ndim == 3 or colour) or images.shape[0] == 0:
        raise ValueError(f"tile_images: expected a non-empty (N, H, W) or (N, 3, H, W) stack, "
                         f"got shape {images.shape}")
    if zoom < 1:
        raise ValueError(f"tile_images: zoom must be a positive integer, got {zoom}")
    images = scale_to_unit(images)
    if colour:
        images = images.transpose(0, 2, 3, 1)  # channels last, as images are shown
    if zoom > 1:
        images = images.repeat(zoom, axis=1).repeat(zoom, axis=2)
    count, height, width = images.shape[:3]
    if columns is None:
        columns = math.ceil(math.sqrt(count))
    if columns < 1:
        raise ValueError(f"tile_images: columns must be positive, got {columns}")
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding,
                    *images.shape[3:]), pad_value, dtype=np.float32)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid
