"""Transforms applied to images after they are scaled to [0, 1] (torchvision's, for arrays).

A transform is a callable on a float array shaped ``(C, H, W)`` (one image) or ``(N, C, H, W)``
(a batch): channels are always axis ``-3`` and any leading axes are samples. That is what lets
a dataset apply the transform once to a whole batch instead of once per image. Transforms keep
the input's dtype (float32 stays float32) and never write into their input.

The random ones (augmentation: :class:`RandomCrop`, :class:`RandomHorizontalFlip`,
:class:`RandomAffine`, :class:`ColorJitter`) take torchvision's names and arguments, draw
their parameters per image, and are called as ``transform(images, generator)``: a dataset
passes the generator the :class:`~minicnn.data.dataloader.DataLoader` gives each batch, so
the augmentation repeats under a seed and resumes exactly (see
:mod:`~minicnn.data.transforms.base`).

Example::

    from minicnn.data import CIFAR10, transforms

    augment = transforms.Compose([
        transforms.RandomCrop(32, padding=4),
        transforms.RandomHorizontalFlip(),
        transforms.Normalize(CIFAR10.mean, CIFAR10.std),
    ])
    train_set = CIFAR10(train=True, download=True, transform=augment)

Modules: :mod:`~minicnn.data.transforms.normalize`, :mod:`~minicnn.data.transforms.compose`,
:mod:`~minicnn.data.transforms.crop`, :mod:`~minicnn.data.transforms.flip`,
:mod:`~minicnn.data.transforms.affine`, :mod:`~minicnn.data.transforms.color`.
"""

from minicnn.data.transforms.affine import RandomAffine
from minicnn.data.transforms.base import BatchShare, RandomTransform, is_random
from minicnn.data.transforms.color import ColorJitter
from minicnn.data.transforms.compose import Compose, Lambda
from minicnn.data.transforms.crop import RandomCrop
from minicnn.data.transforms.flip import RandomHorizontalFlip
from minicnn.data.transforms.normalize import (
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST_MEAN,
    MNIST_STD,
    Normalize,
)

__all__ = [
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "MNIST_MEAN",
    "MNIST_STD",
    "BatchShare",
    "ColorJitter",
    "Compose",
    "Lambda",
    "Normalize",
    "RandomAffine",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomTransform",
    "is_random",
]
