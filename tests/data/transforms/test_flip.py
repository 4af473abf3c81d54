"""RandomHorizontalFlip: the flipped images are the last axis reversed, at rate p."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data.transforms import RandomHorizontalFlip


@settings(max_examples=40, deadline=None)
@given(count=st.integers(1, 6), p=st.floats(0, 1), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**32 - 1))
def test_each_drawn_image_is_reversed_along_its_width(count, p, dtype, seed):
    flip = RandomHorizontalFlip(p)
    images = np.random.default_rng(seed).random((count, 2, 3, 5)).astype(dtype)
    original = images.copy()
    params = flip.draw(images, np.random.default_rng(seed))
    out = flip.apply(images, params)
    expected = np.stack([image[:, :, ::-1] if flipped else image
                         for image, flipped in zip(images, params.flip)])
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(images, original, "the input is not written")
    np.testing.assert_array_equal(flip(images, np.random.default_rng(seed)), out)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_the_flip_rate_is_p(p):
    flips = RandomHorizontalFlip(p).draw(np.zeros((20000, 1, 1, 2)), np.random.default_rng(3))
    # The standard deviation of the rate is at most 0.0036.
    assert abs(flips.flip.mean() - p) < 0.02, f"rate {flips.flip.mean()} for p={p}"


def test_p_zero_and_one():
    images = np.arange(6.0).reshape(1, 1, 2, 3)
    np.testing.assert_array_equal(RandomHorizontalFlip(0)(images), images)
    np.testing.assert_array_equal(RandomHorizontalFlip(1)(images[0]), [[[2, 1, 0], [5, 4, 3]]])


def test_bad_p_and_repr():
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        RandomHorizontalFlip(1.5)
    assert repr(RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
