"""ColorJitter: random brightness, contrast, saturation and hue, in a random order per image.

The four adjustments are torchvision's (``transforms.functional.adjust_*`` on float tensors
in [0, 1]); each but hue blends the image with a reference and clamps to [0, 1]:

* brightness ``f``: ``clamp(f * image)`` (a blend with black);
* contrast ``f``: ``clamp(f * image + (1 - f) * m)``, ``m`` the mean of the image's grey levels
  (``0.2989 R + 0.587 G + 0.114 B``, ITU-R 601-2 luma; the image itself if it has one channel);
* saturation ``f``: ``clamp(f * image + (1 - f) * grey)``, the grey image per pixel;
* hue ``h``: the hue, in turns, shifted by ``h`` in HSV space (0.5 is the opposite colour).

Saturation and hue leave a one-channel image as it is.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from minicnn.data.transforms.base import RandomTransform

__all__ = [
    "ColorJitter",
    "JitterParams",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "rgb_to_grayscale",
]

_LUMA = (0.2989, 0.587, 0.114)


def _per_image(factor, images: np.ndarray) -> np.ndarray:
    """One factor per image, ``(N,)``, shaped ``(N, 1, 1, 1)`` in the images' dtype."""
    return np.asarray(factor, dtype=images.dtype).reshape(-1, 1, 1, 1)


def _blend(images: np.ndarray, other, factor) -> np.ndarray:
    return np.clip(factor * images + (1 - factor) * other, 0, 1).astype(images.dtype,
                                                                         copy=False)


def _check_channels(images: np.ndarray, owner: str) -> int:
    channels = images.shape[-3]
    if channels not in (1, 3):
        raise ValueError(f"{owner}: expected images with 1 or 3 channels, got {channels} "
                         f"(input shape {images.shape})")
    return channels


def rgb_to_grayscale(images: np.ndarray) -> np.ndarray:
    """``(N, 3, H, W)`` RGB -> ``(N, 1, H, W)`` grey levels, ``0.2989 R + 0.587 G + 0.114 B``."""
    red, green, blue = (images[:, channel : channel + 1] for channel in range(3))
    luma = [images.dtype.type(weight) for weight in _LUMA]
    return luma[0] * red + luma[1] * green + luma[2] * blue


def adjust_brightness(images: np.ndarray, factor) -> np.ndarray:
    """``clamp(factor * images, 0, 1)`` for ``(N, C, H, W)`` images, one factor per image."""
    return _blend(images, 0, _per_image(factor, images))


def adjust_contrast(images: np.ndarray, factor) -> np.ndarray:
    """Blend each ``(N, C, H, W)`` image with the mean of its grey levels."""
    channels = _check_channels(images, "adjust_contrast")
    grey = rgb_to_grayscale(images) if channels == 3 else images
    mean = grey.mean(axis=(1, 2, 3), keepdims=True, dtype=np.float64).astype(images.dtype)
    return _blend(images, mean, _per_image(factor, images))


def adjust_saturation(images: np.ndarray, factor) -> np.ndarray:
    """Blend each RGB pixel with its grey level (0: grey, 1: unchanged); one channel: as is."""
    if _check_channels(images, "adjust_saturation") == 1:
        return images.copy()
    return _blend(images, rgb_to_grayscale(images), _per_image(factor, images))


def _rgb_to_hsv(images: np.ndarray) -> np.ndarray:
    red, green, blue = images[:, 0], images[:, 1], images[:, 2]
    value = images.max(axis=1)
    chroma = value - images.min(axis=1)
    grey = chroma == 0
    saturation = chroma / np.where(value == 0, 1, value)
    safe_chroma = np.where(grey, 1, chroma)
    red_distance = (value - red) / safe_chroma
    green_distance = (value - green) / safe_chroma
    blue_distance = (value - blue) / safe_chroma
    # Sextant of the hue: the channel holding the maximum decides (red first, as colorsys).
    hue = np.where(value == red, blue_distance - green_distance,
                   np.where(value == green, 2 + red_distance - blue_distance,
                            4 + green_distance - red_distance))
    hue = np.where(grey, 0, (hue / 6) % 1)
    return np.stack([hue, saturation, value], axis=1)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    hue, saturation, value = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    sextant = np.floor(hue * 6)
    fraction = hue * 6 - sextant
    sextant = sextant.astype(np.intp) % 6
    p = value * (1 - saturation)
    q = value * (1 - saturation * fraction)
    t = value * (1 - saturation * (1 - fraction))
    # (R, G, B) in each of the six sextants of the colour wheel.
    table = np.stack([
        np.stack([value, q, p, p, t, value]),
        np.stack([t, value, value, q, p, p]),
        np.stack([p, p, t, value, value, q]),
    ])  # (3 channels, 6 sextants, N, H, W)
    rgb = np.take_along_axis(table, sextant[None, None], axis=1)[:, 0]
    return np.clip(np.moveaxis(rgb, 0, 1), 0, 1)


def adjust_hue(images: np.ndarray, shift) -> np.ndarray:
    """Rotate each RGB image's hue by ``shift`` turns (in [-0.5, 0.5]); one channel: as is."""
    if _check_channels(images, "adjust_hue") == 1:
        return images.copy()
    hsv = _rgb_to_hsv(images)
    hsv[:, 0] = (hsv[:, 0] + np.asarray(shift, dtype=images.dtype).reshape(-1, 1, 1)) % 1
    return _hsv_to_rgb(hsv).astype(images.dtype, copy=False)


class JitterParams(NamedTuple):
    """Each image's adjustments: ``order`` (N, 4), a permutation of 0 brightness, 1 contrast,
    2 saturation, 3 hue; each factor ``(N,)``, or None when that adjustment is off."""

    order: np.ndarray
    brightness: np.ndarray | None
    contrast: np.ndarray | None
    saturation: np.ndarray | None
    hue: np.ndarray | None


def _factor_range(name: str, value, center: float = 1.0, bound: tuple = (0, float("inf")),
                  clip_first: bool = True):
    """torchvision's ``_check_input``: ``v`` -> ``[center - v, center + v]`` (the low end
    clipped at 0 for factors), or a ``(min, max)`` within ``bound``; None if it is the
    identity."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"ColorJitter: if {name} is a single number, it must be "
                             f"non-negative, got {value!r}")
        value = [center - float(value), center + float(value)]
        if clip_first:
            value[0] = max(value[0], 0.0)
    elif (isinstance(value, Sequence) and len(value) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)):
        value = [float(value[0]), float(value[1])]
    else:
        raise ValueError(f"ColorJitter: {name} should be a single number or a sequence "
                         f"(min, max), got {value!r}")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should lie between {bound[0]} and "
                         f"{bound[1]}, in order, got {value}")
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter(RandomTransform):
    """Randomly change brightness, contrast, saturation and hue, as torchvision's.

    Per image: a factor is drawn for each adjustment that is on, ``U(max(0, 1 - b), 1 + b)``
    for brightness ``b`` (contrast and saturation alike), ``U(-h, h)`` for hue ``h``; then the
    adjustments are applied in a random order (a permutation of the four, drawn per image).
    Images are expected in [0, 1] (before ``Normalize``): the results are clamped to it.

    Args:
        brightness, contrast, saturation: a non-negative number ``b`` for factors in
            ``[max(0, 1 - b), 1 + b]``, or a ``(min, max)`` range. Default 0: off.
        hue: ``h`` in [0, 0.5] for shifts in ``[-h, h]`` turns, or a ``(min, max)`` within
            ``[-0.5, 0.5]``. Default 0: off.

    Shape:
        ``(C, H, W)`` or ``(N, C, H, W)`` with C 1 or 3, unchanged, same dtype.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = _factor_range("brightness", brightness)
        self.contrast = _factor_range("contrast", contrast)
        self.saturation = _factor_range("saturation", saturation)
        self.hue = _factor_range("hue", hue, center=0.0, bound=(-0.5, 0.5), clip_first=False)

    def draw(self, images: np.ndarray, generator: np.random.Generator) -> JitterParams:
        count = images.shape[0]
        order = generator.permuted(np.tile(np.arange(4), (count, 1)), axis=1)
        factors = [None if bounds is None else generator.uniform(*bounds, size=count)
                   for bounds in (self.brightness, self.contrast, self.saturation, self.hue)]
        return JitterParams(order, *factors)

    def apply(self, images: np.ndarray, params: JitterParams) -> np.ndarray:
        _check_channels(images, repr(self))
        adjustments = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
        factors = params[1:]
        out = images.copy()
        for position in range(4):
            for which, (adjust, factor) in enumerate(zip(adjustments, factors)):
                chosen = params.order[:, position] == which
                if factor is not None and chosen.any():
                    out[chosen] = adjust(out[chosen], factor[chosen])
        return out

    def __repr__(self) -> str:
        options = [f"{name}={list(value)}" for name, value in (
            ("brightness", self.brightness), ("contrast", self.contrast),
            ("saturation", self.saturation), ("hue", self.hue)) if value is not None]
        return f"ColorJitter({', '.join(options)})"
