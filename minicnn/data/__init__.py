"""Data: datasets, batching and the MNIST / Fashion-MNIST files (torch.utils.data's spirit).

Typical use::

    from minicnn.data import MNIST, DataLoader, transforms

    normalize = transforms.Normalize(MNIST.mean, MNIST.std)
    train_set = MNIST(train=True, download=True, transform=normalize)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, generator=0)
    for images, labels in loader:  # (64, 1, 28, 28) float32, (64,) int64
        ...

Modules: :mod:`~minicnn.data.idx` (the IDX file format), :mod:`~minicnn.data.download`
(cache folder, mirrors, checksums), :mod:`~minicnn.data.mnist` (the datasets),
:mod:`~minicnn.data.dataset` (Dataset, ArrayDataset, Subset, random_split),
:mod:`~minicnn.data.dataloader` (DataLoader), :mod:`~minicnn.data.sharded` (a rank's
share of each batch, for data-parallel training) and :mod:`~minicnn.data.transforms`.
"""

from minicnn.data import transforms
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
from minicnn.data.mnist import MNIST, FashionMNIST
from minicnn.data.sharded import ShardedDataLoader, shard_bounds

__all__ = [
    "MNIST",
    "ArrayDataset",
    "DataFileError",
    "DataLoader",
    "Dataset",
    "DownloadError",
    "FashionMNIST",
    "ShardedDataLoader",
    "Subset",
    "default_cache_dir",
    "default_collate",
    "random_split",
    "read_idx",
    "shard_bounds",
    "transforms",
    "write_idx",
]
