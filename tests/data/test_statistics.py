"""minicnn.data.statistics: per-channel mean and std equal to the formula on the pixels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data import CIFAR10, MNIST, channel_statistics


@settings(max_examples=30, deadline=None)
@given(count=st.integers(1, 5), channels=st.integers(1, 4), height=st.integers(1, 6),
       width=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_statistics_equal_mean_and_population_std_of_the_scaled_pixels(count, channels, height,
                                                                      width, seed):
    images = np.random.default_rng(seed).integers(0, 256, size=(count, channels, height, width),
                                                  dtype=np.uint8)
    mean, std = channel_statistics(images)
    scaled = images.astype(np.float64) / 255
    assert len(mean) == len(std) == channels
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 2, 3)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 2, 3)), rtol=1e-10, atol=1e-15)
    assert all(isinstance(value, float) for value in mean + std)


def test_one_channel_layout_and_datasets(cifar_files):
    images = np.array([[[0, 255], [255, 255]]], dtype=np.uint8)  # (1, 2, 2): MNIST's layout
    mean, std = channel_statistics(images)
    assert mean == pytest.approx((0.75,), rel=1e-15)
    assert std == pytest.approx((np.sqrt(0.75 * 0.25),), rel=1e-15), "population std"
    dataset = CIFAR10(cifar_files().root)
    assert channel_statistics(dataset) == channel_statistics(dataset.images), "its .images"


def test_mnist_statistics_are_the_published_ones(mnist_train):
    mean, std = channel_statistics(mnist_train)
    assert abs(mean[0] - MNIST.mean) < 5e-5 and abs(std[0] - MNIST.std) < 5e-5, (mean, std)


def test_refuses_what_is_not_stored_images():
    with pytest.raises(TypeError, match=r"expected uint8 images .* got dtype float32"):
        channel_statistics(np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"got shape \(4, 4\)"):
        channel_statistics(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"non-empty .* got shape \(0, 3, 2, 2\)"):
        channel_statistics(np.zeros((0, 3, 2, 2), np.uint8))
