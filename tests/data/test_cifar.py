"""minicnn.data.cifar on files in the official binary layout that the tests write, and
downloading the archive from a local HTTP server (no machine here reaches the real host)."""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request

import numpy as np
import pytest

from minicnn.data import CIFAR10, CIFAR100, DataFileError, DownloadError
from minicnn.data.cifar import parse_records
from minicnn.data.download import RemoteFile
from minicnn.data.transforms import Normalize, RandomHorizontalFlip


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, f"error message spans several lines: {message!r}"
    return message


def fake_release(files) -> type[CIFAR10]:
    """CIFAR-10 whose official archive is ``files``'s (its MD5): the download path end to end."""
    md5 = hashlib.md5(files.archive.read_bytes()).hexdigest()

    class FakeCIFAR10(CIFAR10):
        archive = RemoteFile("cifar-10-binary.tar", md5)

    return FakeCIFAR10


# --------------------------------------------------------------------------- reading
@pytest.mark.parametrize("train", [True, False])
def test_folder_records_become_images_and_labels(cifar_files, train, no_network):
    files = cifar_files(per_file=3, test_count=5)
    dataset = CIFAR10(files.root, train=train)
    images = files.train_images if train else files.test_images
    labels = files.train_labels if train else files.test_labels
    assert len(dataset) == (15 if train else 5), "5 training files of 3 records, or the test one"
    assert dataset.images.dtype == np.uint8 and dataset.images.shape == (len(images), 3, 32, 32)
    np.testing.assert_array_equal(dataset.images, images, "records in file order, channel first")
    assert dataset.targets.dtype == np.int64
    np.testing.assert_array_equal(dataset.targets, labels[:, 0])
    assert dataset.classes == CIFAR10.classes, "the names of batches.meta.txt"


def test_the_pixel_bytes_are_red_then_green_then_blue_row_by_row(tmp_path):
    # One record written by hand: label 7, then R = 0..1023 % 256, G all 1, B all 2.
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    red = (np.arange(1024) % 256).astype(np.uint8)
    record = bytes([7]) + red.tobytes() + bytes([1]) * 1024 + bytes([2]) * 1024
    (folder / "test_batch.bin").write_bytes(record)
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR10.classes) + "\n\n")
    dataset = CIFAR10(tmp_path, train=False)
    image, label = dataset[0]
    assert label == 7
    np.testing.assert_array_equal(dataset.images[0, 0], red.reshape(32, 32),
                                  "red plane first, row by row")
    assert (dataset.images[0, 1] == 1).all() and (dataset.images[0, 2] == 2).all()
    assert image.shape == (3, 32, 32) and image.dtype == np.float32
    np.testing.assert_array_equal(image[0, 0, :3], np.array([0, 1, 2], np.float32) / 255)


def test_class_names_come_from_the_names_file(cifar_files):
    names = [[f"thing {index}" for index in range(10)]]
    dataset = CIFAR10(cifar_files(names=names).root, train=False)
    assert dataset.classes == tuple(names[0])
    assert CIFAR10.classes[0] == "airplane", "the class attribute keeps the official names"


def test_the_archive_is_read_in_memory_without_writing(cifar_files, no_network):
    files = cifar_files(archive=True, folder=False)
    before = sorted(os.listdir(files.root))
    with pytest.raises(DataFileError, match="MD5 mismatch"):
        CIFAR10(files.root)  # the tests' archive is not the official one
    dataset = CIFAR10(files.root, verify=False)
    np.testing.assert_array_equal(dataset.images, files.train_images)
    np.testing.assert_array_equal(dataset.targets, files.train_labels[:, 0])
    assert sorted(os.listdir(files.root)) == before, "reading an archive writes nothing"


def test_the_extracted_folder_itself_can_be_the_root(cifar_files):
    files = cifar_files()
    dataset = CIFAR10(files.folder, train=False)
    np.testing.assert_array_equal(dataset.images, files.test_images)


def test_cifar100_targets_are_fine_labels_with_coarse_alongside(cifar_files, no_network):
    files = cifar_files(kind="cifar100", per_file=7, test_count=3)
    train = CIFAR100(files.root)
    assert len(train) == 7 and train.images.shape == (7, 3, 32, 32)
    np.testing.assert_array_equal(train.targets, files.train_labels[:, 1], "the fine byte")
    np.testing.assert_array_equal(train.coarse_targets, files.train_labels[:, 0])
    assert train.targets.dtype == train.coarse_targets.dtype == np.int64
    assert len(train.classes) == 100 and train.classes == CIFAR100.classes
    assert len(train.coarse_classes) == 20 and train.coarse_classes[0] == "aquatic_mammals"
    test = CIFAR100(files.root, train=False)
    np.testing.assert_array_equal(test.images, files.test_images)
    assert test[2][1] == files.test_labels[2, 1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_get_batch_equals_the_items_and_applies_the_transform(cifar_files, dtype):
    normalize = Normalize(CIFAR10.mean, CIFAR10.std)
    dataset = CIFAR10(cifar_files().root, transform=normalize, dtype=dtype)
    indices = np.array([3, 0, 19, 3])
    images, labels = dataset.get_batch(indices)
    assert images.shape == (4, 3, 32, 32) and images.dtype == dtype and labels.dtype == np.int64
    expected = normalize(dataset.images[indices].astype(dtype) / dtype(255))
    np.testing.assert_allclose(images, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
    for row, index in enumerate(indices):
        image, label = dataset[int(index)]
        np.testing.assert_array_equal(image, images[row])
        assert label == labels[row]


def test_a_random_transform_draws_from_the_generator_given(cifar_files):
    dataset = CIFAR10(cifar_files().root, transform=RandomHorizontalFlip(1.0))
    assert dataset.needs_generator
    assert not CIFAR10(cifar_files().root).needs_generator
    images, _ = dataset.get_batch(np.arange(2), generator=np.random.default_rng(0))
    np.testing.assert_array_equal(images, dataset.images[:2, ..., ::-1] / np.float32(255))


def test_repr(cifar_files):
    files = cifar_files(kind="cifar100")
    assert repr(CIFAR100(files.root, train=False)) == (
        f"CIFAR100(split='test', 6 images, root='{files.root}')")


# --------------------------------------------------------------------------- bad files
def test_a_file_of_the_wrong_size_names_the_file_and_the_sizes(cifar_files):
    files = cifar_files(per_file=2)
    path = files.folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataFileError) as excinfo:
        CIFAR10(files.root)
    message = one_line_error(excinfo)
    assert message.startswith(f"{path}: expected a whole number of 3,073-byte records")
    assert "found 6,136 bytes (1 records and 3,063 bytes more)" in message


def test_an_empty_file_is_refused(cifar_files):
    files = cifar_files()
    (files.folder / "test_batch.bin").write_bytes(b"")
    with pytest.raises(DataFileError, match=r"test_batch\.bin: expected a whole number .* found 0"):
        CIFAR10(files.root, train=False)


@pytest.mark.parametrize(("kind", "offset", "what"), [
    ("cifar10", 0, "label 10 is out of range: expected 0 to 9"),
    ("cifar100", 0, "coarse label 20 is out of range: expected 0 to 19"),
    ("cifar100", 1, "fine label 100 is out of range: expected 0 to 99"),
])
def test_a_label_out_of_range_names_the_file_and_the_record(cifar_files, kind, offset, what):
    files = cifar_files(kind=kind, test_count=4)
    path = files.folder / ("test_batch.bin" if kind == "cifar10" else "test.bin")
    data = bytearray(path.read_bytes())
    record = len(data) // 4
    data[2 * record + offset] = 10 if kind == "cifar10" else (20 if offset == 0 else 100)
    path.write_bytes(bytes(data))
    dataset_class = CIFAR10 if kind == "cifar10" else CIFAR100
    with pytest.raises(DataFileError) as excinfo:
        dataset_class(files.root, train=False)
    message = one_line_error(excinfo)
    assert message.startswith(f"{path}: record 2: {what}")


def test_a_names_file_with_the_wrong_count_is_refused(cifar_files):
    files = cifar_files()
    (files.folder / "batches.meta.txt").write_text("cat\ndog\n")
    with pytest.raises(DataFileError, match=r"batches\.meta\.txt: expected 10 class names, one a "
                                            r"line, found 2"):
        CIFAR10(files.root, train=False)


def test_a_truncated_archive_is_refused(cifar_files):
    files = cifar_files(archive=True, folder=False)
    files.archive.write_bytes(files.archive.read_bytes()[:2000])
    with pytest.raises(DataFileError) as excinfo:
        CIFAR10(files.root, verify=False)
    message = one_line_error(excinfo)
    assert str(files.archive) in message and "truncated or corrupt" in message


def test_missing_files_without_download_say_what_to_do(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as excinfo:
        CIFAR10(tmp_path, train=False)
    message = one_line_error(excinfo)
    assert message.startswith(f"CIFAR10: test_batch.bin is not in "
                              f"{tmp_path / 'cifar-10-batches-bin'} or {tmp_path}")
    assert "no cifar-10-binary.tar.gz" in message and "download=True" in message


def test_parse_records_never_loads_anything_but_bytes():
    labels, images = parse_records(bytes(3074 * 2), "two.bin", (("coarse", 20), ("fine", 100)))
    assert labels.shape == (2, 2) and images.shape == (2, 3, 32, 32)


# --------------------------------------------------------------------------- downloading
def test_download_extracts_into_the_cache_then_works_offline(
    cifar_files, tmp_path, monkeypatch, serve_directory, closed_port_url
):
    files = cifar_files(root=tmp_path / "mirror", archive=True, folder=False)
    release = fake_release(files)
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MINICNN_CIFAR10_MIRRORS",
                       f"{closed_port_url} {serve_directory(files.root)}")
    downloaded = release(train=False, download=True)
    root = tmp_path / "cache" / "cifar10"
    assert downloaded.root == root
    assert sorted(os.listdir(root)) == ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]
    assert sorted(os.listdir(root / "cifar-10-batches-bin")) == [
        "batches.meta.txt", "test_batch.bin"], "only the files the split needs, nothing hidden"
    np.testing.assert_array_equal(downloaded.images, files.test_images)

    def refuse(*args, **kwargs):
        raise AssertionError("the cached files should be used without the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    # The training files are not extracted yet: they come from the cached archive.
    train = release(download=True)
    np.testing.assert_array_equal(train.images, files.train_images)
    assert len(os.listdir(root / "cifar-10-batches-bin")) == 7


def test_a_mirror_with_a_bad_copy_then_a_good_one(cifar_files, tmp_path, serve_directory):
    files = cifar_files(root=tmp_path / "good", archive=True, folder=False)
    release = fake_release(files)
    bad = tmp_path / "bad"
    bad.mkdir()
    altered = bytearray(files.archive.read_bytes())
    altered[-100] ^= 0xFF
    (bad / files.archive.name).write_bytes(bytes(altered))
    dataset = release(tmp_path / "root", train=False, download=True,
                      mirrors=[serve_directory(bad), serve_directory(files.root)])
    np.testing.assert_array_equal(dataset.targets, files.test_labels[:, 0])


def test_every_mirror_failing_is_one_clear_error_and_leaves_nothing(
    cifar_files, tmp_path, serve_directory
):
    files = cifar_files(root=tmp_path / "good", archive=True, folder=False)
    release = fake_release(files)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / files.archive.name).write_bytes(files.archive.read_bytes()[:-500])
    empty = tmp_path / "empty"
    empty.mkdir()
    mirrors = [serve_directory(truncated), serve_directory(empty)]
    root = tmp_path / "root"
    with pytest.raises(DownloadError) as excinfo:
        release(root, train=False, download=True, mirrors=mirrors)
    message = one_line_error(excinfo)
    assert message.startswith(f"Could not download cifar-10-binary.tar.gz into {root}")
    assert f"{mirrors[0]}cifar-10-binary.tar.gz: the gzip data is truncated or corrupt" in message
    assert f"{mirrors[1]}cifar-10-binary.tar.gz: HTTP error 404" in message
    assert "cifar-10-binary.tar:" not in message, "no uncompressed name: its MD5 is unknown"
    assert "MINICNN_CIFAR10_MIRRORS" in message and "--data-dir" in message
    assert list(root.iterdir()) == [], "a failed download leaves no file behind"


def test_the_official_release_is_checked_on_download(cifar_files, tmp_path, serve_directory):
    files = cifar_files(root=tmp_path / "mirror", archive=True, folder=False)
    with pytest.raises(DownloadError, match="expected c32a1d4ab5d03f1284b67883e8d87530"):
        CIFAR10(tmp_path / "root", download=True, mirrors=serve_directory(files.root))


def test_a_cached_archive_that_is_not_the_release_is_refused(cifar_files, tmp_path):
    files = cifar_files(archive=True, folder=False)
    with pytest.raises(DataFileError, match=r"MD5 mismatch.*delete it"):
        CIFAR10(files.root, download=True, mirrors=[])


def test_mirrors_come_from_their_own_variables(monkeypatch):
    monkeypatch.delenv("MINICNN_CIFAR10_MIRRORS", raising=False)
    assert CIFAR10.default_mirrors == ("https://www.cs.toronto.edu/~kriz/",)
    assert (CIFAR10.mirrors_env, CIFAR100.mirrors_env) == ("MINICNN_CIFAR10_MIRRORS",
                                                           "MINICNN_CIFAR100_MIRRORS")
    assert CIFAR10.archive.gz_name == "cifar-10-binary.tar.gz"
    assert CIFAR100.archive.gz_name == "cifar-100-binary.tar.gz"
    assert CIFAR100.archive.gz_md5 == "03b5dce01913d631647c71ecec9e9cb8"


def test_cifar100_downloads_into_its_own_cache(cifar_files, tmp_path, monkeypatch,
                                               serve_directory):
    files = cifar_files(root=tmp_path / "mirror", kind="cifar100", archive=True, folder=False)
    md5 = hashlib.md5(files.archive.read_bytes()).hexdigest()

    class FakeCIFAR100(CIFAR100):
        archive = RemoteFile("cifar-100-binary.tar", md5)

    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MINICNN_CIFAR100_MIRRORS", serve_directory(files.root))
    dataset = FakeCIFAR100(download=True)
    assert dataset.root == tmp_path / "cache" / "cifar100"
    assert (dataset.root / "cifar-100-binary" / "train.bin").is_file()
    np.testing.assert_array_equal(dataset.coarse_targets, files.train_labels[:, 0])
    shutil.rmtree(dataset.root / "cifar-100-binary")
    assert len(FakeCIFAR100(download=True, mirrors=[])) == 4, "extracted again from the archive"
