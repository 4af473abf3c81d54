"""RandomCrop: pad, then cut a window at a random place (torchvision's, for arrays).

The standard CIFAR augmentation (He et al. 2016, section 4.2) is ``RandomCrop(32, padding=4)``
with a horizontal flip: each 32x32 image is padded to 40x40 with zeros and a 32x32 window is
cut at one of the 9 x 9 offsets, so the network sees the object shifted by up to 4 pixels.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from minicnn.data.transforms.base import RandomTransform

__all__ = ["PADDING_MODES", "CropParams", "RandomCrop", "pad_images"]

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


class CropParams(NamedTuple):
    """The window of each image: its top row and left column in the padded image, ``(N,)``."""

    top: np.ndarray
    left: np.ndarray


def _crop_size(size) -> tuple[int, int]:
    """torchvision's rule: an int ``s`` is ``(s, s)``, a sequence is ``(h, w)`` (or ``(s,)``)."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    elif isinstance(size, Sequence) and len(size) == 1:
        size = (size[0], size[0])
    if (not isinstance(size, Sequence) or len(size) != 2
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                       for s in size)):
        raise ValueError(f"RandomCrop: size must be a positive int or a sequence (h, w) of "
                         f"them, got {size!r}")
    return int(size[0]), int(size[1])


def _padding_sides(padding) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` from torchvision's forms: one int for every side, two for
    (left/right, top/bottom), four for (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        padding = [padding]
    if not isinstance(padding, Sequence) or len(padding) not in (1, 2, 4) or not all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0
            for p in padding):
        raise ValueError(f"RandomCrop: padding must be a non-negative int or a sequence of 1, "
                         f"2 or 4 of them, got {padding!r}")
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    return tuple(int(p) for p in padding)


def pad_images(images: np.ndarray, sides: tuple[int, int, int, int], fill=0,
               mode: str = "constant") -> np.ndarray:
    """Pad ``(N, C, H, W)`` images by ``sides = (left, top, right, bottom)`` pixels.

    ``mode``: ``"constant"`` (the value ``fill``, one number or one per channel), ``"edge"``
    (the last pixel repeated), ``"reflect"`` (mirrored without repeating the edge pixel:
    ``[3, 2 | 1, 2, 3 | 2, 1]``) or ``"symmetric"`` (mirrored repeating it:
    ``[2, 1 | 1, 2, 3 | 3, 2]``), as torchvision's ``F.pad``. ``reflect`` needs each side
    smaller than the image, ``symmetric`` no larger (torch refuses more, NumPy would mirror
    again).

    Shape:
        ``(N, C, H, W) -> (N, C, H + top + bottom, W + left + right)``, the input's dtype.
    """
    left, top, right, bottom = sides
    count, channels, height, width = images.shape
    if mode == "constant":
        fills = np.broadcast_to(np.asarray(fill, dtype=images.dtype).reshape(-1, 1, 1),
                                (channels, 1, 1))
        out = np.empty((count, channels, height + top + bottom, width + left + right),
                       dtype=images.dtype)
        out[...] = fills
        out[:, :, top : top + height, left : left + width] = images
        return out
    limit = {"reflect": (height - 1, width - 1), "symmetric": (height, width)}.get(mode)
    if limit is not None and (max(top, bottom) > limit[0] or max(left, right) > limit[1]):
        raise ValueError(
            f"pad_images: {mode} padding of (left, top, right, bottom) = {sides} is too large "
            f"for {height}x{width} images (at most {limit[0]} rows and {limit[1]} columns)")
    return np.pad(images, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)


class RandomCrop(RandomTransform):
    """Cut a ``size`` window at a random place of each image, after optional padding.

    As ``torchvision.transforms.RandomCrop``: the image is padded by ``padding``, then (with
    ``pad_if_needed``) each dimension smaller than the crop is padded by the difference on both
    sides, and the window's top-left corner ``(i, j)`` is drawn uniformly from every place
    where it fits: ``out = padded[..., i : i + h, j : j + w]``.

    Args:
        size: ``(h, w)`` of the crop, or one int for a square.
        padding: pixels added before cropping: one int for every side, ``(left/right,
            top/bottom)`` or ``(left, top, right, bottom)``. Default: none.
        pad_if_needed: pad a dimension smaller than the crop instead of failing.
        fill: the padding value for ``padding_mode="constant"``, one number or one per channel.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"`` (see
            :func:`pad_images`).

    Shape:
        ``(C, H, W)`` or ``(N, C, H, W)`` -> ``(C, h, w)`` or ``(N, C, h, w)``, same dtype.

    Example::

        >>> crop = RandomCrop(32, padding=4)
        >>> crop(np.zeros((8, 3, 32, 32), np.float32), np.random.default_rng(0)).shape
        (8, 3, 32, 32)
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant"):
        self.size = _crop_size(size)
        self.padding = padding
        self._sides = _padding_sides(padding) if padding is not None else (0, 0, 0, 0)
        self.pad_if_needed = bool(pad_if_needed)
        fills = np.asarray(fill)
        if fills.ndim > 1 or fills.size == 0 or not np.issubdtype(fills.dtype, np.number):
            raise ValueError(f"RandomCrop: fill must be a number or a sequence of numbers (one "
                             f"per channel), got {fill!r}")
        self.fill = fill
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {PADDING_MODES}, got "
                             f"{padding_mode!r}")
        self.padding_mode = padding_mode

    def _extra_padding(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``pad_if_needed``'s padding of an image already padded to ``height x width``."""
        if not self.pad_if_needed:
            return (0, 0, 0, 0)
        extra_width = max(0, self.size[1] - width)
        extra_height = max(0, self.size[0] - height)
        return (extra_width, extra_height, extra_width, extra_height)

    def padded(self, images: np.ndarray) -> np.ndarray:
        """``images`` ``(N, C, H, W)`` padded as the crop sees them."""
        fills = np.asarray(self.fill)
        if fills.size not in (1, images.shape[1]):
            raise ValueError(f"{self!r}: fill has {fills.size} values, but the images have "
                             f"{images.shape[1]} channels")
        if any(self._sides):
            images = pad_images(images, self._sides, self.fill, self.padding_mode)
        extra = self._extra_padding(*images.shape[-2:])
        if any(extra):
            images = pad_images(images, extra, self.fill, self.padding_mode)
        return images

    def _padded_size(self, height: int, width: int) -> tuple[int, int]:
        left, top, right, bottom = self._sides
        height, width = height + top + bottom, width + left + right
        extra_left, extra_top, extra_right, extra_bottom = self._extra_padding(height, width)
        return height + extra_top + extra_bottom, width + extra_left + extra_right

    def draw(self, images: np.ndarray, generator: np.random.Generator) -> CropParams:
        height, width = self._padded_size(*images.shape[-2:])
        crop_height, crop_width = self.size
        if height < crop_height or width < crop_width:
            raise ValueError(
                f"{self!r}: the crop {crop_height}x{crop_width} is larger than the (padded) "
                f"image {height}x{width} (input shape {images.shape}); pass padding= or "
                f"pad_if_needed=True")
        count = images.shape[0]
        top = generator.integers(0, height - crop_height + 1, size=count)
        left = generator.integers(0, width - crop_width + 1, size=count)
        return CropParams(top, left)

    def apply(self, images: np.ndarray, params: CropParams) -> np.ndarray:
        padded = self.padded(images)
        # Every possible window as a view (no copy); fancy indexing then copies out one window
        # per image: (N, C, windows down, windows across, h, w) -> (N, C, h, w).
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.size, axis=(2, 3))
        return windows[np.arange(len(padded)), :, params.top, params.left]

    def __repr__(self) -> str:
        options = [f"size={self.size}"]
        if self.padding is not None:
            options.append(f"padding={self.padding!r}")
        if self.pad_if_needed:
            options.append("pad_if_needed=True")
        if np.any(np.asarray(self.fill) != 0):
            options.append(f"fill={self.fill!r}")
        if self.padding_mode != "constant":
            options.append(f"padding_mode={self.padding_mode!r}")
        return f"RandomCrop({', '.join(options)})"
