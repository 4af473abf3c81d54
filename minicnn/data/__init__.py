"""Data: datasets, batching, augmentation and the MNIST / Fashion-MNIST / CIFAR files
(torch.utils.data's and torchvision's spirit).

Typical use::

    from minicnn.data import MNIST, DataLoader, transforms

    normalize = transforms.Normalize(MNIST.mean, MNIST.std)
    train_set = MNIST(train=True, download=True, transform=normalize)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=0)
    for images, labels in loader:  # (64, 1, 28, 28) float32, (64,) int64
        ...

Modules: :mod:`~minicnn.data.idx` (the IDX file format), :mod:`~minicnn.data.download`
(cache folder, mirrors, checksums), :mod:`~minicnn.data.archive` (safe tar extraction),
:mod:`~minicnn.data.image_dataset` (what the image datasets share), :mod:`~minicnn.data.mnist`
and :mod:`~minicnn.data.cifar` (the datasets), :mod:`~minicnn.data.statistics` (per-channel
mean and std), :mod:`~minicnn.data.dataset` (Dataset, ArrayDataset, Subset, random_split),
:mod:`~minicnn.data.dataloader` (DataLoader), :mod:`~minicnn.data.sharded` (a rank's share
of each batch, for data-parallel training) and :mod:`~minicnn.data.transforms` (normalisation
and augmentation).
"""

from minicnn.data import transforms
from minicnn.data.cifar import CIFAR10, CIFAR100
from minicnn.data.dataloader import DataLoader
from minicnn.data.dataset import (
    ArrayDataset,
    Dataset,
    Subset,
    default_collate,
    random_split,
)
from minicnn.data.download import DownloadError, default_cache_dir
from minicnn.data.idx import DataFileError, read_idx, write_idx
from minicnn.data.image_dataset import ImageDataset
from minicnn.data.mnist import MNIST, FashionMNIST
from minicnn.data.sharded import ShardedDataLoader, shard_bounds
from minicnn.data.statistics import channel_statistics

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "MNIST",
    "ArrayDataset",
    "DataFileError",
    "DataLoader",
    "Dataset",
    "DownloadError",
    "FashionMNIST",
    "ImageDataset",
    "ShardedDataLoader",
    "Subset",
    "channel_statistics",
    "default_cache_dir",
    "default_collate",
    "random_split",
    "read_idx",
    "shard_bounds",
    "transforms",
    "write_idx",
]
