"""Turn a photo or drawing of a digit (PNG/JPEG, any size) into an MNIST-like 28x28 image.

MNIST's own recipe (LeCun et al.): white digit on black, the digit scaled to fit a 20x20 box
keeping its aspect ratio, anti-aliased to grey levels, then placed in a 28x28 frame so that
its centre of mass sits at pixel (14, 14). A network trained on MNIST sees anything else as an
unfamiliar picture, so ``minicnn predict`` converts every image this way first.
"""

from __future__ import annotations

import os

import numpy as np

from minicnn.data.image_file import flatten_transparency, open_image

__all__ = ["gray_levels", "load_digit_image", "normalize_frames", "to_mnist_frame"]

_BOX = 20
_FRAME = 28


def to_mnist_frame(gray: np.ndarray) -> np.ndarray:
    """``(H, W)`` grey levels (any range, any polarity) -> ``(28, 28)`` uint8 MNIST-style.

    The background is taken to be the colour of the border; if it is light, the image is
    inverted so the digit is light on dark, as in MNIST.
    """
    from PIL import Image

    image = np.asarray(gray, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"to_mnist_frame: expected a 2D grey image, got shape {image.shape}")
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    background = np.median(border)
    ink = np.abs(image - background)
    if ink.max() <= 0:
        raise ValueError("to_mnist_frame: the image is blank (no pixel differs from the "
                         "background)")
    ink /= ink.max()
    # Faint noise (JPEG artefacts, paper texture) would stretch the bounding box.
    rows = np.flatnonzero((ink > 0.2).any(axis=1))
    cols = np.flatnonzero((ink > 0.2).any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    scale = _BOX / max(digit.shape)
    height = max(1, round(digit.shape[0] * scale))
    width = max(1, round(digit.shape[1] * scale))
    resized = Image.fromarray((digit * 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.LANCZOS)
    digit = np.asarray(resized, dtype=np.float64)

    frame = np.zeros((_FRAME, _FRAME))
    total = digit.sum()
    if total > 0:
        row_mass = (digit.sum(axis=1) * np.arange(height)).sum() / total
        col_mass = (digit.sum(axis=0) * np.arange(width)).sum() / total
    else:
        row_mass, col_mass = (height - 1) / 2, (width - 1) / 2
    # MNIST's centres of mass sit at pixel (14, 14) (mean 14.00, sd 0.29 over the training
    # set: whole-pixel shifts towards 14), not at the geometric centre 13.5.
    top = int(np.clip(round(_FRAME / 2 - row_mass), 0, _FRAME - height))
    left = int(np.clip(round(_FRAME / 2 - col_mass), 0, _FRAME - width))
    frame[top : top + height, left : left + width] = digit
    return np.clip(frame, 0, 255).astype(np.uint8)


def gray_levels(image) -> np.ndarray:
    """A Pillow image as ``(H, W)`` uint8 grey levels, a transparent background made white."""
    return np.asarray(flatten_transparency(image, "L"))


def load_digit_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file and convert it with :func:`to_mnist_frame`; ``(28, 28)`` uint8."""
    return to_mnist_frame(np.asarray(open_image(path, "L")))


def normalize_frames(frames: np.ndarray, dtype, mean: float, std: float) -> np.ndarray:
    """uint8 frames ``(N, 28, 28)`` -> the network's input ``(N, 1, 28, 28)`` in ``dtype``.

    Scaled to [0, 1], then normalised by the training set's ``mean`` and ``std`` with the
    datasets' own ``Normalize`` transform, as in training and in ``minicnn predict``.
    """
    from minicnn.data.transforms import Normalize

    dtype = np.dtype(dtype)
    frames = np.asarray(frames)[:, None].astype(dtype) / dtype.type(255)
    return Normalize(mean, std)(frames)
