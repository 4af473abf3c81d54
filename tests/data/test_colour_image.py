"""minicnn.data.colour_image: a photo becomes its centred square at 32x32 RGB."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from minicnn.data.colour_image import load_colour_image, to_colour_frame


def test_a_32x32_rgb_image_is_read_as_it_is_channel_first(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    frame = load_colour_image(tmp_path / "a.png")
    assert frame.dtype == np.uint8 and frame.shape == (3, 32, 32)
    np.testing.assert_array_equal(frame, pixels.transpose(2, 0, 1))


def test_the_centred_square_is_kept_and_scaled(tmp_path):
    # A wide picture: red left third, green middle square, blue right third.
    pixels = np.zeros((40, 120, 3), np.uint8)
    pixels[:, :40, 0] = 255
    pixels[:, 40:80, 1] = 255
    pixels[:, 80:, 2] = 255
    frame = to_colour_frame(Image.fromarray(pixels))
    assert frame.shape == (3, 32, 32)
    np.testing.assert_array_equal(frame[1], 255, "only the green middle square remains")
    assert frame[0].max() == 0 and frame[2].max() == 0


def test_grey_and_transparent_images_become_rgb_on_white(tmp_path):
    Image.fromarray(np.full((10, 10), 100, np.uint8)).save(tmp_path / "grey.png")
    np.testing.assert_array_equal(load_colour_image(tmp_path / "grey.png"), 100)
    clear = np.zeros((8, 8, 4), np.uint8)  # fully transparent black
    Image.fromarray(clear, "RGBA").save(tmp_path / "clear.png")
    np.testing.assert_array_equal(load_colour_image(tmp_path / "clear.png", (4, 4)), 255)


def test_unreadable_files_are_clear_errors(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"notes\.png: not an image Pillow can read"):
        load_colour_image(tmp_path / "notes.png")
    with pytest.raises(FileNotFoundError, match="no such image file"):
        load_colour_image(tmp_path / "missing.png")
