"""The datasets training knows, by their ``--dataset`` names, and how each is prepared.

For each: the dataset class (its image shape and class names say which networks fit), where
its normalisation statistics come from, and its augmentation recipe.

* MNIST and Fashion-MNIST are normalised by their published statistics (the class attributes,
  which the README's measured runs used; they equal the training set's to four decimals),
  and are not augmented unless asked: ``augment`` gives a small random affine warp
  (``RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1))``), which keeps a digit a digit.
* CIFAR-10 and CIFAR-100 are normalised per channel by the statistics of the training split
  actually loaded (:func:`~minicnn.data.statistics.channel_statistics`), and augmented by
  default with the standard ResNet recipe (He et al. 2016, section 4.2): 4 pixels of zero
  padding and a random 32x32 crop, then a random horizontal flip.

Augmentation applies to the training split only; the test split is only normalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minicnn.data import CIFAR10, CIFAR100, MNIST, FashionMNIST, Subset, channel_statistics
from minicnn.data.image_dataset import ImageDataset
from minicnn.data.transforms import (
    Compose,
    Normalize,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
)

__all__ = ["DATASET_SPECS", "DatasetSpec", "augmentation", "dataset_spec", "load_split",
           "normalization_statistics", "open_split", "prepare_split"]


@dataclass(frozen=True)
class DatasetSpec:
    """How training prepares one dataset.

    Attributes:
        dataset_class: the :class:`~minicnn.data.image_dataset.ImageDataset` subclass.
        measured_statistics: normalise by the loaded training split's per-channel statistics
            (True) or by the class's published ``mean`` and ``std`` (False).
    """

    dataset_class: type[ImageDataset]
    measured_statistics: bool


DATASET_SPECS = {
    "mnist": DatasetSpec(MNIST, measured_statistics=False),
    "fashion-mnist": DatasetSpec(FashionMNIST, measured_statistics=False),
    "cifar10": DatasetSpec(CIFAR10, measured_statistics=True),
    "cifar100": DatasetSpec(CIFAR100, measured_statistics=True),
}
"""How each of :data:`~minicnn.train.config.DATASETS` is prepared (which are augmented by
default: :data:`~minicnn.train.config.AUGMENTED_DATASETS`)."""


def dataset_spec(name: str) -> DatasetSpec:
    try:
        return DATASET_SPECS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of "
                         f"{tuple(DATASET_SPECS)}") from None


def augmentation(name: str) -> list:
    """The random transforms of the dataset's augmentation recipe, in order."""
    dataset_class = dataset_spec(name).dataset_class
    if dataset_class.channels == 3:
        return [RandomCrop(dataset_class.image_size, padding=4), RandomHorizontalFlip()]
    return [RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1))]


def open_split(name: str, data_dir: str | None, train: bool, dtype) -> ImageDataset:
    """One split, untransformed: from ``data_dir`` offline, else found in (or downloaded
    into) minicnn's cache."""
    return dataset_spec(name).dataset_class(root=data_dir, train=train,
                                            download=data_dir is None, dtype=dtype)


def normalization_statistics(name: str, data_dir: str | None = None,
                             train_set: ImageDataset | None = None):
    """``(mean, std)`` for ``Normalize``: the published ones, or those measured on the
    training split (``train_set`` if given, else loaded from ``data_dir``)."""
    spec = dataset_spec(name)
    if not spec.measured_statistics:
        return spec.dataset_class.mean, spec.dataset_class.std
    if train_set is None:
        train_set = open_split(name, data_dir, True, np.float32)
    return channel_statistics(train_set)


def prepare_split(split: ImageDataset, name: str, statistics, limit: int | None = None, *,
                  augment: bool = False):
    """``split`` set up for training: normalised by ``statistics`` ``(mean, std)``, augmented
    first with ``augment``, and cut to its first ``limit`` images (a Subset) if given."""
    transforms = (augmentation(name) if augment else []) + [Normalize(*statistics)]
    split.transform = transforms[0] if len(transforms) == 1 else Compose(transforms)
    if limit is not None and limit < len(split):
        return Subset(split, np.arange(limit))
    return split


def load_split(name: str, data_dir: str | None, train: bool, dtype, limit: int | None = None,
               *, augment: bool = False, statistics=None):
    """One split of a dataset, opened (:func:`open_split`) and prepared (:func:`prepare_split`).

    ``statistics`` is the ``(mean, std)`` to normalise by; default
    :func:`normalization_statistics` (for a measured dataset, the training split's, which is
    loaded for it if this is the test split; the whole split's, whatever ``limit``).
    """
    split = open_split(name, data_dir, train, dtype)
    if statistics is None:
        statistics = normalization_statistics(name, data_dir, split if train else None)
    return prepare_split(split, name, statistics, limit, augment=augment)
