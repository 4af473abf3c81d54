"""minicnn.data.transforms.base and compose: how a generator reaches the random transforms."""

from __future__ import annotations

import numpy as np

from minicnn import random as minicnn_random
from minicnn.data.transforms import (
    ColorJitter,
    Compose,
    Lambda,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    is_random,
)


def test_is_random_sees_random_transforms_inside_compose():
    assert is_random(RandomCrop(4)) and is_random(Compose([Normalize(0, 1), ColorJitter(0.1)]))
    assert not is_random(Normalize(0, 1)) and not is_random(Compose([Lambda(abs)]))
    assert not is_random(None)


def test_compose_hands_the_generator_to_each_random_transform_in_turn():
    crop, flip, normalize = RandomCrop(4, padding=1), RandomHorizontalFlip(), Normalize(0.5, 2)
    images = np.random.default_rng(0).random((5, 3, 4, 4)).astype(np.float32)
    out = Compose([crop, normalize, flip])(images, np.random.default_rng(7))
    generator = np.random.default_rng(7)
    expected = flip(normalize(crop(images, generator)), generator)
    np.testing.assert_array_equal(out, expected)


def test_without_a_generator_the_global_one_draws():
    images = np.random.default_rng(0).random((8, 1, 4, 4))
    flip = RandomHorizontalFlip()
    minicnn_random.manual_seed(3)
    first = flip(images)
    minicnn_random.manual_seed(3)
    np.testing.assert_array_equal(flip(images), first, "manual_seed repeats the draws")
    np.testing.assert_array_equal(first, flip(images, np.random.default_rng(3)))
