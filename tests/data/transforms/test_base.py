"""minicnn.data.transforms.base and compose: how a generator reaches the random transforms."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from minicnn import random as minicnn_random
from minicnn.data.transforms import (
    BatchShare,
    ColorJitter,
    Compose,
    Lambda,
    Normalize,
    RandomAffine,
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


SHARED_TRANSFORMS = {
    "crop": RandomCrop(4, padding=1),
    "flip": RandomHorizontalFlip(),
    "affine": RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=(-5, 5, -5, 5)),
    "jitter": ColorJitter(0.2, 0.3, 0.4, 0.1),
    "crop, normalize, flip": Compose([RandomCrop(4, padding=1), Normalize(0.5, 2),
                                      RandomHorizontalFlip()]),
}


@pytest.mark.parametrize("name", SHARED_TRANSFORMS)
@pytest.mark.parametrize("bounds", [(0, 3, 7, 7), (0, 1, 2, 7), (0, 7)], ids=str)
def test_shares_of_a_batch_are_transformed_as_the_whole_batch(name, bounds):
    """Each share draws the whole batch's parameters from its copy of the generator and keeps
    its rows: put together, the shares are the batch transformed in one call, bit for bit."""
    transform = SHARED_TRANSFORMS[name]
    images = np.random.default_rng(0).random((7, 3, 4, 4))
    whole = transform(images, np.random.default_rng(11))
    shares = [transform(images[start:stop],
                        BatchShare(np.random.default_rng(11), start, stop, len(images)))
              for start, stop in itertools.pairwise(bounds)]
    joined = np.concatenate(shares)
    assert joined.dtype == whole.dtype, f"{name}: expected {whole.dtype}, got {joined.dtype}"
    np.testing.assert_array_equal(
        joined, whole, f"{name}: expected the shares {bounds} to be transformed as the whole "
        "batch")


def test_a_share_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip.*rows 2:5 of a batch of 8 "
                                         r"takes 3 images, got 2"):
        RandomHorizontalFlip()(np.zeros((2, 1, 3, 3)),
                               BatchShare(np.random.default_rng(0), 2, 5, 8))
