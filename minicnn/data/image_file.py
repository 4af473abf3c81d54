"""Reading a picture file with Pillow: transparency on white, errors that name the file."""

from __future__ import annotations

import os

__all__ = ["open_image"]


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
            if opened.mode in ("RGBA", "LA", "PA") or "transparency" in opened.info:
                rgba = opened.convert("RGBA")
                canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(canvas, rgba).convert(mode)
            return opened.convert(mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image Pillow can read (PNG or JPEG expected)") from None
