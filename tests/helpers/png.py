"""Checks that a PNG file is a real picture: the expected size, and something drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def check_png(path: Path, width: int, height: int) -> np.ndarray:
    """Assert ``path`` is a ``width x height`` PNG with drawing on it; return its RGB pixels."""
    assert path.is_file() and path.stat().st_size > 0, f"{path}: no file written"
    with Image.open(path) as image:
        assert image.format == "PNG", f"{path}: expected a PNG, got {image.format}"
        assert image.size == (width, height), (
            f"{path}: expected {width}x{height} pixels, got {image.size[0]}x{image.size[1]}")
        pixels = np.asarray(image.convert("RGB"))
    not_white = np.any(pixels < 250, axis=2).mean()
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert not_white > 0.02, f"{path}: only {100 * not_white:.2f}% of the pixels are drawn on"
    assert colours > 16, f"{path}: only {colours} distinct colours; expected a real figure"
    return pixels


def figure_pixels(figure) -> tuple[int, int]:
    """``(width, height)`` in pixels that a figure saves at (inches times its dpi)."""
    from minicnn.viz._figure import DPI

    width, height = figure.get_size_inches()
    return round(width * DPI), round(height * DPI)
