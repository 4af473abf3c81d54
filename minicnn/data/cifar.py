"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009), read from the official *binary* release.

The binary version is a tar.gz of fixed-size records, one per image, with no header::

    CIFAR-10   <1 label byte><3,072 pixel bytes>                     data_batch_1..5.bin,
                                                                      test_batch.bin
    CIFAR-100  <1 coarse label byte><1 fine label byte><3,072 pixels> train.bin, test.bin

The 3,072 pixel bytes are the 32x32 image channel by channel: 1,024 red values row by row,
then 1,024 green, then 1,024 blue, which is already the ``(3, 32, 32)`` layout a network takes.
The class names are text files, one a line: ``batches.meta.txt`` (CIFAR-10),
``fine_label_names.txt`` and ``coarse_label_names.txt`` (CIFAR-100). Only this release is read:
the "python version" is pickles, and loading a pickle runs whatever code it holds.

The images stay in memory as stored, uint8 ``(N, 3, 32, 32)`` (150 MB for CIFAR-10's training
set); conversion to float happens per batch.

Where the files come from, in order:

1. the extracted folder, ``root/cifar-10-batches-bin/`` (``root/cifar-100-binary/``), or
   ``root`` itself holding the files: used as it is, with no network access;
2. the archive ``root/cifar-10-binary.tar.gz``, read in memory (nothing is written);
3. with ``download=True``, the mirrors (``mirrors=``, else the environment variable
   ``MINICNN_CIFAR10_MIRRORS`` / ``MINICNN_CIFAR100_MIRRORS``, else the authors' site): the
   archive is downloaded into ``root``, its MD5 checked, and the files extracted safely
   (:func:`~minicnn.data.archive.safe_extract`) into the folder of step 1.

The archive's MD5 is the one published on https://www.cs.toronto.edu/~kriz/cifar.html. An
extracted folder has no published checksums: its files are checked for their structure
instead, as every file is: a whole number of records, every label in range, the right number
of class names. A file that fails raises one :class:`~minicnn.data.idx.DataFileError` naming
it, what was expected and what was found.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from minicnn.data.archive import read_members, safe_extract
from minicnn.data.download import DEFAULT_TIMEOUT, RemoteFile, check_md5
from minicnn.data.download import download as download_file
from minicnn.data.idx import DataFileError
from minicnn.data.image_dataset import ImageDataset

__all__ = ["CIFAR10", "CIFAR100", "parse_class_names", "parse_records"]

IMAGE_BYTES = 3 * 32 * 32
"""Pixel bytes of one record: 1,024 red, 1,024 green, 1,024 blue, each row by row."""

_ADVICE = "delete it so that it is downloaded again, or replace it with a good copy"


def parse_records(data: bytes, source: str,
                  label_fields: tuple[tuple[str, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Split a CIFAR binary file into its labels and images.

    Args:
        data: the file's bytes.
        source: the file's name, for errors.
        label_fields: ``(name, number of classes)`` of each label byte at the start of a
            record, in order: ``(("label", 10),)`` for CIFAR-10, ``(("coarse", 20),
            ("fine", 100))`` for CIFAR-100.

    Returns:
        ``labels`` uint8 ``(N, len(label_fields))`` and ``images`` uint8 ``(N, 3, 32, 32)``.

    Raises:
        DataFileError: the size is not a positive whole number of records, or a label is
            out of range.
    """
    label_bytes = len(label_fields)
    record = label_bytes + IMAGE_BYTES
    size = len(data)
    if size == 0 or size % record:
        raise DataFileError(
            f"{source}: expected a whole number of {record:,}-byte records ({label_bytes} label "
            f"byte{'s' if label_bytes > 1 else ''} and {IMAGE_BYTES:,} pixel bytes per image), "
            f"found {size:,} bytes ({size // record:,} records and {size % record:,} bytes "
            f"more); the file is truncated or not a CIFAR binary file: {_ADVICE}")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    labels = rows[:, :label_bytes]
    for position, (name, count) in enumerate(label_fields):
        out_of_range = np.flatnonzero(labels[:, position] >= count)
        if out_of_range.size:
            first = int(out_of_range[0])
            what = "label" if name == "label" else f"{name} label"
            raise DataFileError(
                f"{source}: record {first}: {what} {labels[first, position]} is out of "
                f"range: expected 0 to {count - 1} ({out_of_range.size:,} of the "
                f"{len(rows):,} records are); the file is corrupt or not this dataset's: "
                f"{_ADVICE}")
    images = rows[:, label_bytes:].reshape(-1, 3, 32, 32)
    return np.ascontiguousarray(labels), np.ascontiguousarray(images)


def parse_class_names(data: bytes, source: str, count: int) -> tuple[str, ...]:
    """The class names of a ``*.txt`` names file, one a line (blank lines skipped).

    Raises:
        DataFileError: not text, or not ``count`` names.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFileError(f"{source}: expected {count} class names, one a line, found "
                            f"bytes that are not text; {_ADVICE}") from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != count:
        raise DataFileError(f"{source}: expected {count} class names, one a line, found "
                            f"{len(names)}; {_ADVICE}")
    return names


class CIFAR10(ImageDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images, 32x32, in 10 classes.

    ``dataset[i]`` is ``(image, label)``: the image a float array ``(3, 32, 32)`` (RGB)
    scaled to [0, 1] and passed through ``transform``, the label a Python int.
    ``get_batch(indices)`` returns ``(images (B, 3, 32, 32), labels (B,) int64)`` the same
    way, for many at once.

    Args:
        root: the folder holding the extracted files, the archive, or both (or where to
            download them). Default ``<cache>/cifar10``, where ``<cache>`` is
            ``$MINICNN_CACHE_DIR`` or ``~/.cache/minicnn``.
        train: the training split (True, ``data_batch_1..5.bin``) or the test split (False,
            ``test_batch.bin``).
        download: fetch the archive from the mirrors if the files are not in ``root``.
        transform: applied to float images, single ``(3, 32, 32)`` or batched
            ``(B, 3, 32, 32)``, e.g. ``Normalize(CIFAR10.mean, CIFAR10.std)``, or an
            augmentation (``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``).
        mirrors: base URLs to download from, tried in order (a string for just one). Default:
            the environment variable named by :attr:`mirrors_env`, else :attr:`default_mirrors`.
        dtype: float32 (default) or float64, the dtype of the images handed out.
        verify: check a local archive's MD5 against the official release's (a download is
            always checked); ``False`` reads any archive of the right name and layout.
        timeout: seconds before giving up on an unresponsive mirror.

    Attributes:
        images: uint8 array ``(N, 3, 32, 32)``, the images as stored (RGB, channel first).
        targets: int64 array ``(N,)``, the labels.
        classes: the name of each label, from ``batches.meta.txt`` (the class attribute holds
            the official names).
        mean, std: the training set's per-channel pixel statistics, (R, G, B), after scaling
            to [0, 1], for ``Normalize``; see below.

    The statistics are the published ones: fb.resnet.torch's ``datasets/cifar10.lua`` gives
    ``(125.3, 123.0, 113.9)`` and ``(63.0, 62.1, 66.7)`` on the 0-255 scale, and
    recomputations over the 50,000 training images (kuangliu/pytorch-cifar issue 129,
    akamaster/pytorch_resnet_cifar10 issue 9) give 0.49140, 0.48216, 0.44653 and 0.24703,
    0.24349, 0.26159. (The often-copied std ``(0.2023, 0.1994, 0.2010)`` is the mean of the
    per-image standard deviations, a different quantity.)
    :func:`~minicnn.data.statistics.channel_statistics` computes them from the data.

    Raises:
        FileNotFoundError: the files are missing and ``download`` is False.
        DownloadError: downloading failed on every mirror.
        DataFileError: a file is corrupt, truncated, fails its checksum or holds labels out
            of range (a ValueError).

    Example::

        >>> train_set = CIFAR10(train=True, download=True,
        ...                     transform=Normalize(CIFAR10.mean, CIFAR10.std))
        >>> images, labels = train_set.get_batch(np.arange(64))  # (64, 3, 32, 32) float32
    """

    dataset_name = "CIFAR10"
    cache_subdir = "cifar10"
    mirrors_env = "MINICNN_CIFAR10_MIRRORS"
    default_mirrors = ("https://www.cs.toronto.edu/~kriz/",)
    archive = RemoteFile("cifar-10-binary.tar", "c32a1d4ab5d03f1284b67883e8d87530")
    """The archive ``cifar-10-binary.tar.gz`` and its MD5 from the dataset's page."""
    base_folder = "cifar-10-batches-bin"
    train_files = tuple(f"data_batch_{number}.bin" for number in range(1, 6))
    test_files = ("test_batch.bin",)
    label_fields = (("label", 10),)
    names_files = (("label", "batches.meta.txt"),)
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    channels = 3
    image_size = (32, 32)

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
        data_files = self.train_files if self.train else self.test_files
        names_files = dict(self.names_files)
        contents = self._read(data_files + tuple(names_files.values()), download, verify,
                              timeout)
        parts = [parse_records(contents[name][1], contents[name][0], self.label_fields)
                 for name in data_files]
        labels = np.concatenate([part[0] for part in parts]).astype(np.int64)
        self.images = np.concatenate([part[1] for part in parts])
        count = dict(self.label_fields)
        names = {field: parse_class_names(contents[filename][1], contents[filename][0],
                                          count[field])
                 for field, filename in names_files.items()}
        self._set_labels({name: np.ascontiguousarray(labels[:, position])
                          for position, (name, _) in enumerate(self.label_fields)}, names)

    def _set_labels(self, labels: dict[str, np.ndarray], names: dict[str, tuple[str, ...]]):
        self.targets = labels["label"]
        self.classes = names["label"]

    # ------------------------------------------------------------------ finding the files
    def _folder_holding(self, names) -> Path | None:
        for folder in (self.root / self.base_folder, self.root):
            if all((folder / name).is_file() for name in names):
                return folder
        return None

    def _read(self, names, download: bool, verify: bool,
              timeout: float) -> dict[str, tuple[str, bytes]]:
        """``{file name: (where it was read, its bytes)}`` for each of ``names``."""
        folder = self._folder_holding(names)
        archive_path = self.root / self.archive.gz_name
        if folder is None and download:
            if archive_path.is_file():
                if verify:
                    check_md5(archive_path, self.archive)
            else:
                archive_path = download_file(
                    self.archive, self.root, self.mirrors, timeout=timeout,
                    advice=(f"check the network connection or set {self.mirrors_env} to other "
                            f"mirrors, or download {self.archive.gz_name} yourself and pass its "
                            f"folder as root= (--data-dir on the command line)"))
            safe_extract(archive_path, self.root, [f"{self.base_folder}/{name}" for name in names])
            folder = self._folder_holding(names)
        if folder is not None:
            return {name: (str(folder / name), (folder / name).read_bytes()) for name in names}
        if archive_path.is_file():
            if verify:
                check_md5(archive_path, self.archive)
            members = read_members(archive_path, [f"{self.base_folder}/{name}" for name in names])
            return {name: (f"{archive_path}:{self.base_folder}/{name}",
                           members[f"{self.base_folder}/{name}"]) for name in names}
        missing = next(name for name in names
                       if not (self.root / self.base_folder / name).is_file())
        raise FileNotFoundError(
            f"{self.dataset_name}: {missing} is not in {self.root / self.base_folder} or "
            f"{self.root}, and there is no {self.archive.gz_name} in {self.root}; pass "
            "download=True to fetch it, or root= the folder that holds the files or the archive "
            "(on the command line: --data-dir that folder, or no --data-dir to download into "
            "the cache)")


class CIFAR100(CIFAR10):
    """CIFAR-100: CIFAR-10's format and sizes, with 100 classes in 20 superclasses.

    Same arguments as :class:`CIFAR10`; the files are ``cifar-100-binary/train.bin`` and
    ``test.bin`` (records of a coarse label byte, a fine label byte and the 3,072 pixels),
    the default folder ``<cache>/cifar100`` and the mirrors come from
    ``MINICNN_CIFAR100_MIRRORS``. As torchvision's ``CIFAR100``, the items' labels and
    ``targets`` are the fine labels and ``classes`` their 100 names.

    Attributes:
        targets, classes: the fine labels (0-99) and their names (``fine_label_names.txt``).
        coarse_targets, coarse_classes: the superclass of each image (0-19) and their names
            (``coarse_label_names.txt``).
        mean, std: the training set's per-channel statistics: ``(129.3, 124.1, 112.4)`` and
            ``(68.2, 65.4, 70.4)`` on the 0-255 scale in szagoruyko/wide-residual-networks
            (issue 29), the same to four decimals as in 4uiiurz1/pytorch-auto-augment
            (issue 3).
    """

    dataset_name = "CIFAR100"
    cache_subdir = "cifar100"
    mirrors_env = "MINICNN_CIFAR100_MIRRORS"
    archive = RemoteFile("cifar-100-binary.tar", "03b5dce01913d631647c71ecec9e9cb8")
    base_folder = "cifar-100-binary"
    train_files = ("train.bin",)
    test_files = ("test.bin",)
    label_fields = (("coarse", 20), ("fine", 100))
    names_files = (("fine", "fine_label_names.txt"), ("coarse", "coarse_label_names.txt"))
    classes = (
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
        "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
        "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
        "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest",
        "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower",
        "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
        "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
        "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum",
        "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew",
        "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
        "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
        "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree",
        "wolf", "woman", "worm",
    )
    coarse_classes = (
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
        "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
        "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
        "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
        "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
    )
    mean = (0.5071, 0.4867, 0.4408)
    std = (0.2675, 0.2565, 0.2761)

    def _set_labels(self, labels: dict[str, np.ndarray], names: dict[str, tuple[str, ...]]):
        self.targets = labels["fine"]
        self.classes = names["fine"]
        self.coarse_targets = labels["coarse"]
        self.coarse_classes = names["coarse"]
