"""Reading a picture file with Pillow: transparency on white, errors that name the file."""

from __future__ import annotations

import os

__all__ = ["flatten_transparency", "open_image"]


def flatten_transparency(image, mode: str):
    """A Pillow image converted to ``mode``, a transparent background made white.

    Transparent pixels are shown on screen over a white page, so a drawing in black ink on
    nothing (a PNG with alpha) is black on white here, as its author saw it.
    """
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert(mode)
    return image.convert(mode)


def open_image(path: str | os.PathLike, mode: str):
    """The image at ``path`` as a Pillow image of ``mode`` (``"L"`` grey, ``"RGB"``).

    A transparent background becomes white, as it looks on screen.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an image Pillow can read.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            return flatten_transparency(opened, mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image Pillow can read (PNG or JPEG expected)") from None
