"""tile_images: every image lands in its cell, scaled to [0, 1], with the documented size."""

from __future__ import annotations

import numpy as np
import pytest

from minicnn.viz.grid import scale_to_unit, tile_images


def test_each_image_in_its_cell_scaled_to_unit_range():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(5, 3, 4)) * np.arange(1, 6)[:, None, None]
    grid = tile_images(images, columns=2, padding=1)
    assert grid.shape == (3 * (3 + 1) + 1, 2 * (4 + 1) + 1)
    assert grid.dtype == np.float32
    for index, image in enumerate(images):
        row, column = divmod(index, 2)
        cell = grid[1 + row * 4 : 1 + row * 4 + 3, 1 + column * 5 : 1 + column * 5 + 4]
        expected = (image - image.min()) / (image.max() - image.min())
        np.testing.assert_allclose(cell, expected, atol=1e-6,
                                   err_msg=f"image {index} is not in its cell, scaled")
    # The unused sixth cell and the separators hold the pad value.
    np.testing.assert_array_equal(grid[9:12, 6:10], 1.0)
    np.testing.assert_array_equal(grid[0], 1.0)


def test_zoom_repeats_pixels_and_default_grid_is_square():
    images = np.arange(4 * 2 * 2, dtype=np.float64).reshape(4, 1, 2, 2)
    grid = tile_images(images, padding=0, zoom=3)
    assert grid.shape == (2 * 6, 2 * 6), "4 images: a 2x2 grid of 6x6 cells"
    first = grid[:6, :6]
    np.testing.assert_array_equal(first, np.kron(scale_to_unit(images[:, 0])[0], np.ones((3, 3))))


def test_constant_image_is_grey_not_nan():
    assert np.all(scale_to_unit(np.ones((1, 3, 3))) == 0.5)


def test_rgb_images_make_a_colour_grid():
    images = np.random.default_rng(0).normal(size=(3, 3, 2, 4))
    grid = tile_images(images, columns=3, padding=1, zoom=1)
    assert grid.shape == (1 * (2 + 1) + 1, 3 * (4 + 1) + 1, 3), "rows, columns, RGB"
    image = images[2]
    expected = ((image - image.min()) / (image.max() - image.min())).transpose(1, 2, 0)
    np.testing.assert_allclose(grid[1:3, 11:15], expected, atol=1e-6,
                               err_msg="one scale over the three channels of an image")
    np.testing.assert_array_equal(grid[0], 1.0)


@pytest.mark.parametrize("shape", [(0, 3, 3), (3, 3), (2, 2, 3, 3)])
def test_rejects_what_is_not_a_stack_of_images(shape):
    with pytest.raises(ValueError, match="tile_images: expected a non-empty"):
        tile_images(np.zeros(shape))
