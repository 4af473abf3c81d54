"""ColorJitter: each image adjusted by torchvision's formulas in its drawn order, checked by a
plain per-image, per-pixel loop (hue through the standard library's colorsys)."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data.transforms import ColorJitter
from minicnn.data.transforms.color import adjust_contrast, adjust_hue, adjust_saturation

LUMA = np.array([0.2989, 0.587, 0.114])


def naive_grey(image: np.ndarray) -> np.ndarray:
    return image[0] if len(image) == 1 else np.tensordot(LUMA, image, axes=1)


def naive_adjust(image: np.ndarray, which: int, factor: float) -> np.ndarray:
    """One ``(C, H, W)`` float64 image, one adjustment, written out pixel by pixel."""
    if which == 0:
        return np.clip(factor * image, 0, 1)
    if which == 1:
        return np.clip(factor * image + (1 - factor) * naive_grey(image).mean(), 0, 1)
    if len(image) == 1:
        return image
    if which == 2:
        return np.clip(factor * image + (1 - factor) * naive_grey(image), 0, 1)
    out = np.empty_like(image)
    for row in range(image.shape[1]):
        for column in range(image.shape[2]):
            hue, saturation, value = colorsys.rgb_to_hsv(*image[:, row, column])
            out[:, row, column] = colorsys.hsv_to_rgb((hue + factor) % 1, saturation, value)
    return out


@settings(max_examples=40, deadline=None)
@given(
    channels=st.sampled_from([1, 3]), count=st.integers(1, 5),
    brightness=st.floats(0, 1), contrast=st.floats(0, 1), saturation=st.floats(0, 1),
    hue=st.floats(0, 0.5), seed=st.integers(0, 2**32 - 1),
)
def test_each_image_is_adjusted_in_its_drawn_order(channels, count, brightness, contrast,
                                                    saturation, hue, seed):
    jitter = ColorJitter(brightness, contrast, saturation, hue)
    images = np.random.default_rng(seed).random((count, channels, 3, 4))
    original = images.copy()
    params = jitter.draw(images, np.random.default_rng(seed))
    out = jitter.apply(images, params)
    factors = params[1:]
    for index in range(count):
        expected = images[index]
        for which in params.order[index]:
            if factors[which] is not None:
                expected = naive_adjust(expected, which, factors[which][index])
        np.testing.assert_allclose(out[index], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(images, original, "the input is not written")
    float32 = jitter.apply(images.astype(np.float32), params)
    assert float32.dtype == np.float32
    np.testing.assert_allclose(float32, out, atol=1e-5)


def test_factors_come_from_the_documented_ranges_and_orders_are_permutations():
    jitter = ColorJitter(brightness=0.4, contrast=(0.5, 0.7), saturation=2, hue=0.1)
    params = jitter.draw(np.zeros((6000, 3, 1, 1)), np.random.default_rng(0))
    assert jitter.brightness == (0.6, 1.4) and jitter.saturation == (0.0, 3.0), (
        "[max(0, 1 - b), 1 + b]")
    for factor, (low, high) in ((params.brightness, (0.6, 1.4)), (params.contrast, (0.5, 0.7)),
                                (params.saturation, (0.0, 3.0)), (params.hue, (-0.1, 0.1))):
        assert low <= factor.min() and factor.max() <= high
        assert factor.mean() == pytest.approx((low + high) / 2, abs=0.03 * (high - low))
    assert (np.sort(params.order, axis=1) == np.arange(4)).all(), "a permutation per image"
    first = np.bincount(params.order[:, 0], minlength=4) / 6000
    np.testing.assert_allclose(first, 0.25, atol=0.03, err_msg="each adjustment first 1/4")


def test_zero_turns_an_adjustment_off():
    jitter = ColorJitter(brightness=0.5)
    params = jitter.draw(np.zeros((3, 3, 2, 2)), np.random.default_rng(0))
    assert params.contrast is None and params.saturation is None and params.hue is None
    images = np.full((3, 3, 2, 2), 0.5)
    np.testing.assert_allclose(jitter.apply(images, params),
                               0.5 * params.brightness[:, None, None, None]
                               * np.ones((3, 3, 2, 2)))


def test_contrast_blends_with_the_mean_grey_level_and_hue_turns_colours():
    image = np.zeros((1, 3, 1, 2))
    image[0, 0, 0, 0] = 1.0  # one red pixel, one black
    grey_mean = 0.2989 / 2
    np.testing.assert_allclose(adjust_contrast(image, [0.0])[0, :, 0, 0], [grey_mean] * 3)
    np.testing.assert_allclose(adjust_saturation(image, [0.0])[0, :, 0, 0], [0.2989] * 3)
    np.testing.assert_allclose(adjust_hue(image, [1 / 3])[0, :, 0, 0], [0, 1, 0], atol=1e-7,
                               err_msg="a third of a turn takes red to green")


def test_bad_arguments_and_repr():
    with pytest.raises(ValueError, match="if brightness is a single number, it must be "
                                         "non-negative"):
        ColorJitter(brightness=-0.1)
    with pytest.raises(ValueError, match=r"hue values should lie between -0.5 and 0.5"):
        ColorJitter(hue=0.6)
    with pytest.raises(ValueError, match="expected images with 1 or 3 channels, got 2"):
        ColorJitter(0.1)(np.zeros((1, 2, 2, 2)))
    assert repr(ColorJitter(brightness=0.2, hue=0.1)) == (
        "ColorJitter(brightness=[0.8, 1.2], hue=[-0.1, 0.1])")
