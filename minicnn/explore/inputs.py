"""What the network is shown: a drawing turned into an MNIST-like image, or a test image.

A drawing (a PNG from the page's canvas, or grey levels from a notebook) goes through
:func:`minicnn.data.digit_image.to_mnist_frame`, exactly as ``minicnn predict`` converts a
photo: the digit scaled into a 20x20 box, centred by its centre of mass in 28x28, white on
black. A test image is used as the dataset stores it. Either way the frame is then scaled to
[0, 1] and normalised with the training set's mean and standard deviation.

A network that does not take ``(1, 28, 28)`` (a colour network of 32x32 images, say) is shown
a drawing resized to its input size, the same grey in every channel: not what it was trained
on, but enough to follow the forward and backward passes.
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass

import numpy as np

from minicnn.data.digit_image import gray_levels, normalize_frames, to_mnist_frame
from minicnn.explore.errors import RequestError

__all__ = ["MAX_IMAGE_SIDE", "InputSpec", "decode_png", "pixels_array"]

MAX_IMAGE_SIDE = 2048
"""The largest width or height of a drawing accepted: a screen-sized canvas fits; a tiny PNG
that would unpack to gigabytes of pixels does not."""


@dataclass(frozen=True)
class InputSpec:
    """The input a network takes and the normalisation of its training set.

    Attributes:
        shape: ``(C, H, W)`` of one image.
        mean, std: per channel (one value is used for every channel), of pixels in [0, 1].
        dtype: the network's float dtype.
    """

    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    dtype: np.dtype

    @property
    def drawable_as_is(self) -> bool:
        """Whether a drawing is what the network was trained on (an MNIST-sized digit)."""
        return self.shape == (1, 28, 28)

    def frame_from_gray(self, gray: np.ndarray) -> np.ndarray:
        """Grey levels of a drawing -> a uint8 frame ``(C, H, W)`` as the network takes it."""
        from PIL import Image

        try:
            frame = to_mnist_frame(gray)
        except ValueError as error:  # a blank drawing
            raise RequestError(str(error).replace("to_mnist_frame: ", "")) from None
        channels, height, width = self.shape
        if (height, width) != frame.shape:
            frame = np.asarray(Image.fromarray(frame).resize((width, height),
                                                             Image.Resampling.BILINEAR))
        return np.repeat(frame[None], channels, axis=0)

    def normalize(self, frame: np.ndarray) -> np.ndarray:
        """A uint8 frame ``(C, H, W)`` -> the network's input ``(1, C, H, W)``, scaled to
        [0, 1] and normalised as in training."""
        channels, height, width = frame.shape
        if len(self.mean) == 1 and len(self.std) == 1:
            # Each channel as one of minicnn predict's frames: the same arithmetic, so a
            # drawing gives the network the very input predict would.
            return normalize_frames(frame, self.dtype, self.mean[0], self.std[0]).reshape(
                1, channels, height, width)
        mean = np.asarray(self.mean, self.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, self.dtype).reshape(-1, 1, 1)
        return ((frame.astype(self.dtype) / 255 - mean) / std).astype(self.dtype)[None]


def decode_png(text) -> np.ndarray:
    """A base64 image (PNG or JPEG, optionally a ``data:`` URL) -> ``(H, W)`` grey levels."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(text, str):
        raise RequestError(f"input.png must be a base64 string, got {type(text).__name__}")
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("input.png is not valid base64") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if max(width, height) > MAX_IMAGE_SIDE:
                raise RequestError(f"input.png is {width}x{height} pixels; the explorer takes "
                                   f"images up to {MAX_IMAGE_SIDE} pixels a side")
            return gray_levels(image)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise RequestError("input.png is not an image Pillow can read (PNG or JPEG "
                           "expected)") from None
    except (OSError, SyntaxError, ValueError) as error:  # truncated or damaged data
        if isinstance(error, RequestError):
            raise
        raise RequestError(f"input.png is a damaged image ({error})") from None


def pixels_array(rows) -> np.ndarray:
    """``[[grey, ...], ...]`` (numbers in [0, 255], rows of equal length) -> ``(H, W)``."""
    if (not isinstance(rows, list) or not rows
            or not all(isinstance(row, list) and row for row in rows)):
        raise RequestError("input.pixels must be a non-empty list of non-empty rows of numbers")
    if len({len(row) for row in rows}) != 1:
        raise RequestError("input.pixels: every row must have the same length")
    if max(len(rows), len(rows[0])) > MAX_IMAGE_SIDE:
        raise RequestError(f"input.pixels is {len(rows[0])}x{len(rows)}; the explorer takes "
                           f"images up to {MAX_IMAGE_SIDE} pixels a side")
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool)
               for row in rows for value in row):
        raise RequestError("input.pixels must hold only numbers (grey levels 0-255)")
    pixels = np.array(rows, dtype=np.float64)
    if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 255:
        raise RequestError("input.pixels must hold grey levels between 0 and 255")
    return pixels
