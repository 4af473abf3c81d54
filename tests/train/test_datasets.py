"""minicnn.train.datasets: each dataset normalised and augmented as documented."""

from __future__ import annotations

import numpy as np
import pytest

from minicnn.data import CIFAR10, MNIST, Subset, channel_statistics
from minicnn.data.transforms import (
    Compose,
    Normalize,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
)
from minicnn.train.config import AUGMENTED_DATASETS, DATASETS, TrainConfig
from minicnn.train.datasets import (
    DATASET_SPECS,
    augmentation,
    dataset_spec,
    load_split,
    normalization_statistics,
)


def test_every_dataset_name_has_a_spec():
    assert tuple(DATASET_SPECS) == DATASETS
    assert set(AUGMENTED_DATASETS) == {"cifar10", "cifar100"}
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        dataset_spec("svhn")


def test_augment_defaults_to_the_datasets_and_old_configs_resume_as_they_ran():
    assert TrainConfig(dataset="cifar10").augment is True
    assert TrainConfig(dataset="cifar100", augment=False).augment is False
    assert TrainConfig().augment is False, "MNIST stays unaugmented by default"
    assert TrainConfig(augment=True).augment is True
    old = TrainConfig().to_dict()
    del old["augment"]  # a config.json from before augmentation
    assert TrainConfig.from_dict(old).augment is False


def test_augmentation_recipes():
    crop, flip = augmentation("cifar10")
    assert isinstance(crop, RandomCrop) and crop.size == (32, 32) and crop.padding == 4
    assert isinstance(flip, RandomHorizontalFlip) and flip.p == 0.5
    (affine,) = augmentation("mnist")
    assert isinstance(affine, RandomAffine) and affine.degrees == (-10.0, 10.0)
    assert affine.translate == (0.1, 0.1) and affine.scale == (0.9, 1.1)


def test_cifar_splits_are_normalised_by_the_training_splits_own_statistics(cifar10_dir):
    train_images = CIFAR10(cifar10_dir).images
    mean, std = channel_statistics(train_images)
    assert normalization_statistics("cifar10", str(cifar10_dir)) == (mean, std)
    assert mean != CIFAR10.mean, "measured on the data loaded, not the published figures"
    test = load_split("cifar10", str(cifar10_dir), False, np.float64)
    images, _ = test.get_batch(np.arange(len(test)))
    expected = (test.images / 255 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(images, expected, rtol=1e-12, atol=1e-12)
    limited = load_split("cifar10", str(cifar10_dir), True, np.float32, limit=10)
    assert isinstance(limited, Subset) and len(limited) == 10
    assert limited.dataset.transform.mean.tolist() == list(mean), "the whole split's statistics"
    assert not limited.needs_generator


def test_augmented_splits_draw_from_the_generator_given(cifar10_dir):
    train = load_split("cifar10", str(cifar10_dir), True, np.float32, augment=True)
    assert isinstance(train.transform, Compose) and train.needs_generator
    assert [type(part) for part in train.transform.transforms] == [RandomCrop,
                                                                  RandomHorizontalFlip, Normalize]
    first, _ = train.get_batch(np.arange(8), generator=np.random.default_rng(1))
    again, _ = train.get_batch(np.arange(8), generator=np.random.default_rng(1))
    other, _ = train.get_batch(np.arange(8), generator=np.random.default_rng(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_mnist_keeps_its_published_statistics(mnist_dir):
    test = load_split("mnist", str(mnist_dir), False, np.float32, limit=5)
    assert repr(test.dataset.transform) == "Normalize(mean=0.1307, std=0.3081)"
    assert normalization_statistics("mnist") == (MNIST.mean, MNIST.std)
