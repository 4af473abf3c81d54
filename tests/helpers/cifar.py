"""Fake CIFAR files in the official binary layout, written record by record from random images.

No machine here reaches the dataset's host: the CIFAR tests read files in the real format,
written by :func:`write_cifar` (the ``cifar_files`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CIFAR_LAYOUTS", "CifarFiles", "cifar_record_bytes", "official_names", "write_cifar"]

CIFAR_LAYOUTS = {
    # kind: (folder in the archive, training files, test files, label bytes, names files)
    "cifar10": ("cifar-10-batches-bin", [f"data_batch_{i}.bin" for i in range(1, 6)],
                ["test_batch.bin"], ((10, "batches.meta.txt"),)),
    "cifar100": ("cifar-100-binary", ["train.bin"], ["test.bin"],
                 ((20, "coarse_label_names.txt"), (100, "fine_label_names.txt"))),
}


@dataclass
class CifarFiles:
    """Fake CIFAR files in the official binary layout, and what they hold.

    ``labels`` are ``(N, label bytes)``: CIFAR-10's one label, CIFAR-100's (coarse, fine).
    ``names`` are the class names of each names file, in the layout's order.
    """

    root: Path
    folder: Path
    archive: Path | None
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    names: list[list[str]]


def cifar_record_bytes(labels: np.ndarray, images: np.ndarray) -> bytes:
    """Records ``<label bytes><1,024 R><1,024 G><1,024 B>``: each ``(3, 32, 32)`` image
    flattened channel by channel, row by row, after its label bytes."""
    return np.concatenate([labels.reshape(len(images), -1).astype(np.uint8),
                           images.reshape(len(images), -1)], axis=1).tobytes()


def official_names(kind: str) -> list[list[str]]:
    """The class names the real names files hold, in the layout's order."""
    from minicnn.data import CIFAR10, CIFAR100

    if kind == "cifar10":
        return [list(CIFAR10.classes)]
    return [list(CIFAR100.coarse_classes), list(CIFAR100.classes)]


def write_cifar(root: Path, kind: str = "cifar10", per_file: int = 4, test_count: int = 6,
                seed: int = 0, archive: bool = False, folder: bool = True,
                names: list[list[str]] | None = None) -> CifarFiles:
    """Write ``per_file`` images into each training file and ``test_count`` into the test
    file, extracted under ``root/<folder>/`` and/or packed as ``root/<kind>-binary.tar.gz``
    (members ``<folder>/<file>``, plus a readme as in the real archive). The names files
    hold ``names`` (default: the official class names, one a line, then a blank line)."""
    base, train_names, test_names, label_specs = CIFAR_LAYOUTS[kind]
    rng = np.random.default_rng(seed)

    def draw(count):
        images = rng.integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8)
        labels = np.stack([rng.integers(0, classes, size=count) for classes, _ in label_specs],
                          axis=1).astype(np.uint8)
        return labels, images

    files, train, test = {}, [], []
    for name in train_names:
        train.append(draw(per_file))
        files[name] = cifar_record_bytes(*train[-1])
    test.append(draw(test_count))
    files[test_names[0]] = cifar_record_bytes(*test[-1])
    names = official_names(kind) if names is None else names
    for (_, filename), file_names in zip(label_specs, names):
        files[filename] = ("\n".join(file_names) + "\n\n").encode()
    root.mkdir(parents=True, exist_ok=True)
    if folder:
        (root / base).mkdir(exist_ok=True)
        for name, content in files.items():
            (root / base / name).write_bytes(content)
    archive_path = None
    if archive:
        archive_path = root / f"{'cifar-10' if kind == 'cifar10' else 'cifar-100'}-binary.tar.gz"
        with tarfile.open(archive_path, "w:gz") as tar:
            directory = tarfile.TarInfo(base)
            directory.type = tarfile.DIRTYPE
            directory.mode = 0o755
            tar.addfile(directory)
            for name, content in [*files.items(), ("readme.html", b"<html></html>")]:
                info = tarfile.TarInfo(f"{base}/{name}")
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return CifarFiles(root, root / base, archive_path,
                      np.concatenate([images for _, images in train]),
                      np.concatenate([labels for labels, _ in train]),
                      test[0][1], test[0][0], names)
