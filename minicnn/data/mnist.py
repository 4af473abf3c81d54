"""MNIST and Fashion-MNIST, read from the four standard IDX files, as torchvision offers them.

The images stay in memory as they are stored, uint8 ``(N, 28, 28)`` (47 MB for the training
set); conversion to float happens per batch. A batch is fetched with one fancy-indexing
operation (:meth:`MNIST.get_batch`), which the :class:`~minicnn.data.dataloader.DataLoader` uses.

Where the files come from, in order:

1. ``root`` (default ``<cache>/mnist``, see :func:`~minicnn.data.download.default_cache_dir`),
   or torchvision's layout ``root/MNIST/raw``: each file as ``name.gz`` or uncompressed ``name``.
   A folder that holds the files is used as it is, with no network access.
2. With ``download=True``, the mirrors (``mirrors=`` or the environment variable
   ``MINICNN_MNIST_MIRRORS`` / ``MINICNN_FASHION_MNIST_MIRRORS``, else the usual public ones),
   into ``root``.

Every file is checked against the official MD5 (of the ``.gz`` or of the uncompressed bytes).
"""

from __future__ import annotations

import os

import numpy as np

from minicnn.data.download import DEFAULT_TIMEOUT, RemoteFile, find_local_copy, read_verified
from minicnn.data.download import download as download_file
from minicnn.data.idx import IMAGES_MAGIC, LABELS_MAGIC, check_images_labels, parse_idx
from minicnn.data.image_dataset import ImageDataset
from minicnn.data.transforms import FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD

__all__ = ["MNIST", "FashionMNIST"]


class MNIST(ImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, labels 0-9.

    ``dataset[i]`` is ``(image, label)``: the image a float array ``(1, 28, 28)`` scaled to
    [0, 1] and passed through ``transform``, the label a Python int. ``get_batch(indices)``
    returns ``(images (B, 1, 28, 28), labels (B,) int64)`` the same way, for many at once.

    Args:
        root: the folder holding the IDX files (or where to download them). Default
            ``<cache>/mnist``, where ``<cache>`` is ``$MINICNN_CACHE_DIR`` or ``~/.cache/minicnn``.
        train: the training split (True) or the test split (False).
        download: fetch files that are not in ``root`` from the mirrors.
        transform: applied to float images, single ``(1, 28, 28)`` or batched
            ``(B, 1, 28, 28)``, e.g. ``Normalize(MNIST.mean, MNIST.std)``.
        mirrors: base URLs to download from, tried in order (a string for just one). Default:
            the environment variable named by :attr:`mirrors_env`, else :attr:`default_mirrors`.
        dtype: float32 (default) or float64, the dtype of the images handed out.
        verify: check each file's MD5 against the official release; ``False`` reads any IDX
            files of the right names (for instance a subset written with ``write_idx``).
        timeout: seconds before giving up on an unresponsive mirror.

    Attributes:
        images: uint8 array ``(N, 28, 28)``, the images as stored.
        targets: int64 array ``(N,)``, the labels.
        classes: the name of each label.
        mean, std: the training set's pixel statistics (after scaling to [0, 1]), for
            ``Normalize``.

    Raises:
        FileNotFoundError: a file is missing and ``download`` is False.
        DownloadError: downloading failed on every mirror.
        ValueError: a file is corrupt, not the official release, or not the IDX it should be.
    """

    dataset_name = "MNIST"
    cache_subdir = "mnist"
    torchvision_subdir = "MNIST"
    mirrors_env = "MINICNN_MNIST_MIRRORS"
    default_mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    # (images, labels) of each split, with the torchvision .gz MD5s and the MD5s of the
    # uncompressed files of the original release.
    train_files = (
        RemoteFile(
            "train-images-idx3-ubyte",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "6bbc9ace898e44ae57da46a324031adb",
        ),
        RemoteFile(
            "train-labels-idx1-ubyte",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "a25bea736e30d166cdddb491f175f624",
        ),
    )
    test_files = (
        RemoteFile(
            "t10k-images-idx3-ubyte",
            "9fb629c4189551a2d022fa330f9573f3",
            "2646ac647ad5339dbf082846283269ea",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "27ae3e4e09519cfbb04c329615203637",
        ),
    )
    classes = (
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    )
    mean = MNIST_MEAN
    std = MNIST_STD
    channels = 1
    image_size = (28, 28)

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform=None,
        *,
        mirrors=None,
        dtype=np.float32,
        verify: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        super().__init__(root, train, transform, dtype, mirrors)
        images_file, labels_file = self.train_files if self.train else self.test_files
        images_path, images_bytes = self._read(images_file, download, verify, timeout)
        labels_path, labels_bytes = self._read(labels_file, download, verify, timeout)
        self.images = parse_idx(images_bytes, str(images_path), expected_magic=IMAGES_MAGIC)
        labels = parse_idx(labels_bytes, str(labels_path), expected_magic=LABELS_MAGIC)
        check_images_labels(
            self.images,
            labels,
            str(images_path),
            str(labels_path),
            image_size=self.image_size,
            num_classes=len(self.classes),
        )
        self.targets = labels.astype(np.int64)

    def _read(self, remote: RemoteFile, download_missing: bool, verify: bool, timeout: float):
        """Find (or download) one file and return its path and uncompressed, checked bytes."""
        path = None
        for folder in (self.root, self.root / self.torchvision_subdir / "raw"):
            path = find_local_copy(folder, remote)
            if path is not None:
                break
        if path is None:
            if not download_missing:
                raise FileNotFoundError(
                    f"{self.dataset_name}: {remote.gz_name} is not in {self.root}; pass "
                    "download=True to fetch it, or root= the folder that holds the IDX files "
                    "(on the command line: --data-dir that folder, or no --data-dir to "
                    "download into the cache)"
                )
            path = download_file(
                remote,
                self.root,
                self.mirrors,
                timeout=timeout,
                advice=(
                    f"check the network connection or set {self.mirrors_env} to other mirrors, "
                    f"or download the files yourself and pass their folder as root= "
                    f"(--data-dir on the command line)"
                ),
            )
        return path, read_verified(path, remote, verify=verify)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, with pictures of ten kinds of clothing.

    Same arguments and attributes as :class:`MNIST`; the default folder is
    ``<cache>/fashion-mnist`` and the mirrors come from ``MINICNN_FASHION_MNIST_MIRRORS``.
    """

    dataset_name = "FashionMNIST"
    cache_subdir = "fashion-mnist"
    torchvision_subdir = "FashionMNIST"
    mirrors_env = "MINICNN_FASHION_MNIST_MIRRORS"
    default_mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    # The file names are MNIST's; only the .gz MD5s (torchvision's) are known for them.
    train_files = (
        RemoteFile("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        RemoteFile("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe"),
    )
    test_files = (
        RemoteFile("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79"),
        RemoteFile("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310"),
    )
    classes = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    mean = FASHION_MNIST_MEAN
    std = FASHION_MNIST_STD
