"""Inputs: drawings converted as ``minicnn predict`` converts them, refused with a sentence
when they are not images."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from minicnn.data.digit_image import normalize_frames, to_mnist_frame
from minicnn.data.transforms import MNIST_MEAN, MNIST_STD
from minicnn.explore.errors import RequestError
from minicnn.explore.inputs import MAX_IMAGE_SIDE, InputSpec, decode_png, pixels_array

MNIST_SPEC = InputSpec((1, 28, 28), (MNIST_MEAN,), (MNIST_STD,), np.dtype(np.float32))


def png_base64(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_drawing_becomes_minicnn_predicts_frame(seven_png):
    gray = decode_png("data:image/png;base64," + base64.b64encode(seven_png).decode())
    frame = MNIST_SPEC.frame_from_gray(gray)
    np.testing.assert_array_equal(frame[0], to_mnist_frame(gray))
    np.testing.assert_array_equal(MNIST_SPEC.normalize(frame),
                                  normalize_frames(frame, np.float32, MNIST_MEAN, MNIST_STD))


def test_transparent_and_jpeg_drawings():
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[5:35, 18:22, 3] = 255  # black ink on nothing
    gray = decode_png(png_base64(Image.fromarray(rgba, "RGBA")))
    assert gray[0, 0] == 255 and gray[20, 20] == 0, "transparent shows as white paper"
    jpeg = Image.fromarray(np.where(np.arange(40)[:, None] % 10 < 3, 0, 255).astype(np.uint8)
                           * np.ones((1, 40), np.uint8))
    assert decode_png(png_base64(jpeg, "JPEG")).shape == (40, 40)


def test_colour_networks_get_the_drawing_in_every_channel():
    spec = InputSpec((3, 32, 32), (0.5, 0.4, 0.3), (0.2, 0.2, 0.2), np.dtype(np.float32))
    gray = np.zeros((50, 50))
    gray[10:40, 24:27] = 255
    frame = spec.frame_from_gray(gray)
    assert frame.shape == (3, 32, 32) and frame.dtype == np.uint8
    assert np.array_equal(frame[0], frame[2])
    batch = spec.normalize(frame)
    assert batch.shape == (1, 3, 32, 32) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0, 1], (frame[1] / 255 - 0.4) / 0.2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("value", "message"), [
    (12, "must be a base64 string"),
    ("%%%", "not valid base64"),
    (base64.b64encode(b"not an image").decode(), "not an image Pillow can read"),
    (png_base64(Image.new("L", (MAX_IMAGE_SIDE + 1, 2))), "up to 2048 pixels a side"),
    (png_base64(Image.new("L", (60, 60)))[:-40], "damaged image|not an image"),
])
def test_bad_images_are_request_errors(value, message):
    with pytest.raises(RequestError, match=message):
        decode_png(value)


def test_a_blank_drawing_is_a_request_error():
    with pytest.raises(RequestError, match="blank"):
        MNIST_SPEC.frame_from_gray(np.zeros((10, 10)))


@pytest.mark.parametrize(("rows", "message"), [
    ([], "non-empty list"), ([[1, 2], [3]], "same length"), ([[1, "a"]], "only numbers"),
    ([[True]], "only numbers"), ([[0, 256]], "between 0 and 255"), ([[float("nan")]], "between"),
    ([[0] * (MAX_IMAGE_SIDE + 1)], "up to 2048"),
])
def test_bad_pixels_are_request_errors(rows, message):
    with pytest.raises(RequestError, match=message):
        pixels_array(rows)
