"""Turn a photo (PNG/JPEG, any size) into a CIFAR-like 32x32 RGB image.

CIFAR's images are small photos with the object filling most of the frame. A photo is brought
to that form the way torchvision's ``Resize`` + ``CenterCrop`` would: the largest centred
square is cut out (so nothing is stretched) and scaled down to 32x32 with an anti-aliasing
filter (Lanczos), so that fine detail becomes the blur a 32x32 image holds rather than
aliasing. A transparent background becomes white, as it looks on screen
(:func:`~minicnn.data.image_file.open_image`).
"""

from __future__ import annotations

import os

import numpy as np

from minicnn.data.image_file import open_image

__all__ = ["load_colour_image", "to_colour_frame"]


def to_colour_frame(image, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    """A Pillow RGB image -> uint8 ``(3, H, W)``: the centred square, resized to ``size``."""
    from PIL import Image

    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    resized = square.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(resized, dtype=np.uint8).transpose(2, 0, 1))


def load_colour_image(path: str | os.PathLike, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    """Read an image file (any mode: grey, palette, RGBA...) as uint8 RGB ``(3, H, W)`` of
    ``size``, with :func:`to_colour_frame`."""
    return to_colour_frame(open_image(path, "RGB"), size)
