"""minicnn.data.mnist on the real MNIST files, and downloading them from a local server."""

from __future__ import annotations

import gzip
import os
import urllib.request

import numpy as np
import pytest

from minicnn.data import DataLoader, DownloadError, FashionMNIST, write_idx
from minicnn.data.mnist import MNIST
from minicnn.data.transforms import Normalize

# MNIST's class counts (the official release).
TRAIN_CLASS_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, f"error message spans several lines: {message!r}"
    return message


def link_test_files(mnist_dir, folder):
    """Make ``folder`` hold the test split's files (as symbolic links, to copy nothing)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        os.symlink(mnist_dir / name, folder / name)


def test_split_sizes_and_class_counts(mnist_train, mnist_test):
    assert len(mnist_train) == 60000 and len(mnist_test) == 10000
    assert np.bincount(mnist_train.targets).tolist() == TRAIN_CLASS_COUNTS
    assert np.bincount(mnist_test.targets).tolist() == TEST_CLASS_COUNTS
    assert mnist_train.images.dtype == np.uint8 and mnist_train.images.shape == (60000, 28, 28)
    assert mnist_train.targets.dtype == np.int64


def test_training_pixel_statistics_match_the_published_ones(mnist_train):
    # Exact integer moments of the grey levels (255**2 fits in uint16), then scaled to [0, 1].
    pixels = mnist_train.images.ravel()
    squares = pixels.astype(np.uint16)
    squares *= squares
    count = pixels.size
    mean = pixels.sum(dtype=np.int64) / count / 255
    std = np.sqrt(squares.sum(dtype=np.int64) / count / 255**2 - mean**2)
    assert abs(mean - MNIST.mean) < 5e-5, f"pixel mean {mean}, published {MNIST.mean}"
    assert abs(std - MNIST.std) < 5e-5, f"pixel std {std}, published {MNIST.std}"


def test_normalised_training_set_has_zero_mean_unit_variance(mnist_train):
    normalize = Normalize(MNIST.mean, MNIST.std)
    total = total_of_squares = 0.0
    for images, _ in DataLoader(mnist_train, batch_size=20000):
        assert images.dtype == np.float32 and images.shape == (20000, 1, 28, 28)
        flat = normalize(images).ravel().astype(np.float64)
        total += flat.sum()
        total_of_squares += flat @ flat
    count = 60000 * 28 * 28
    mean = total / count
    std = np.sqrt(total_of_squares / count - mean**2)
    assert abs(mean) < 1e-3 and abs(std - 1) < 1e-3, f"mean {mean}, std {std}"


def test_getitem_returns_a_scaled_image_and_an_int_label(mnist_test):
    image, label = mnist_test[7]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_array_equal(image[0], mnist_test.images[7].astype(np.float32) / 255)
    assert type(label) is int and label == mnist_test.targets[7]
    assert mnist_test[-1][1] == mnist_test.targets[-1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_get_batch_equals_the_items_one_by_one(mnist_dir, dtype):
    dataset = MNIST(mnist_dir, train=False, dtype=dtype, transform=Normalize(0.1307, 0.3081))
    indices = np.random.default_rng(0).integers(0, len(dataset), size=33)
    images, labels = dataset.get_batch(indices)
    assert images.shape == (33, 1, 28, 28) and images.dtype == dtype
    assert labels.dtype == np.int64
    items = [dataset[int(i)] for i in indices]
    np.testing.assert_array_equal(images, np.stack([image for image, _ in items]))
    np.testing.assert_array_equal(labels, [label for _, label in items])


def test_bad_indices_are_type_errors(mnist_test):
    with pytest.raises(TypeError, match="index must be an int, got float"):
        mnist_test[1.0]
    with pytest.raises(TypeError, match="index must be an int, got slice; use get_batch"):
        mnist_test[0:4]
    with pytest.raises(TypeError, match=r"1-D array of integers, got shape \(2, 2\)"):
        mnist_test.get_batch(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="dtype float64"):
        mnist_test.get_batch(np.array([0.0, 1.0]))


def test_bad_arguments_are_refused(mnist_dir):
    with pytest.raises(ValueError, match="MNIST: dtype must be float32 or float64, got int32"):
        MNIST(mnist_dir, train=False, dtype=np.int32)
    with pytest.raises(TypeError, match="MNIST: transform must be callable, got float"):
        MNIST(mnist_dir, train=False, transform=0.5)


def test_a_folder_that_holds_the_files_is_used_offline(mnist_dir, mnist_test, no_network):
    dataset = MNIST(mnist_dir, train=False, download=True)
    np.testing.assert_array_equal(dataset.targets, mnist_test.targets)


def test_missing_files_without_download_say_what_to_do(tmp_path, no_network):
    with pytest.raises(FileNotFoundError) as excinfo:
        MNIST(tmp_path, train=False)
    message = one_line_error(excinfo)
    assert f"t10k-images-idx3-ubyte.gz is not in {tmp_path}; pass download=True" in message


def test_download_into_the_cache_named_by_the_environment(
    tmp_path, monkeypatch, serve_directory, mnist_dir, mnist_test, closed_port_url
):
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MINICNN_MNIST_MIRRORS", f"{closed_port_url},{serve_directory(mnist_dir)}")
    downloaded = MNIST(train=False, download=True)
    assert downloaded.root == tmp_path / "cache" / "mnist"
    assert sorted(os.listdir(downloaded.root)) == sorted(TEST_FILES)
    np.testing.assert_array_equal(downloaded.images, mnist_test.images)
    np.testing.assert_array_equal(downloaded.targets, mnist_test.targets)

    def refuse(*args, **kwargs):
        raise AssertionError("the cached files should be used without the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    assert len(MNIST(train=False, download=True)) == 10000


def test_mirrors_argument_overrides_the_environment(
    tmp_path, monkeypatch, serve_directory, mnist_dir, closed_port_url
):
    monkeypatch.setenv("MINICNN_MNIST_MIRRORS", closed_port_url)
    good_mirror = serve_directory(mnist_dir)
    dataset = MNIST(tmp_path, train=False, download=True, mirrors=good_mirror)
    assert dataset.mirrors == (good_mirror,), "a single string is one mirror"
    assert len(dataset) == 10000


def test_failed_download_names_the_mirror_setting_and_data_dir(tmp_path, closed_port_url):
    with pytest.raises(DownloadError) as excinfo:
        MNIST(tmp_path / "root", train=False, download=True, mirrors=[closed_port_url])
    message = one_line_error(excinfo)
    assert "t10k-images-idx3-ubyte.gz" in message and "unreachable" in message
    assert "MINICNN_MNIST_MIRRORS" in message and "--data-dir" in message
    assert list((tmp_path / "root").iterdir()) == []


def test_uncompressed_files_are_accepted(tmp_path, mnist_dir, mnist_test):
    for name in TEST_FILES:
        raw = gzip.decompress((mnist_dir / name).read_bytes())
        (tmp_path / name.removesuffix(".gz")).write_bytes(raw)
    dataset = MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(dataset.images, mnist_test.images)


def test_torchvision_folder_layout_is_found(tmp_path, mnist_dir, no_network):
    link_test_files(mnist_dir, tmp_path / "MNIST" / "raw")
    assert len(MNIST(tmp_path, train=False)) == 10000


def test_a_corrupt_local_file_is_refused_with_advice(tmp_path, mnist_dir):
    raw = bytearray(gzip.decompress((mnist_dir / TEST_FILES[1]).read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    (tmp_path / TEST_FILES[1]).write_bytes(gzip.compress(bytes(raw)))
    os.symlink(mnist_dir / TEST_FILES[0], tmp_path / TEST_FILES[0])
    with pytest.raises(ValueError) as excinfo:
        MNIST(tmp_path, train=False)
    message = one_line_error(excinfo)
    assert f"{tmp_path / TEST_FILES[1]}: MD5 mismatch" in message and "delete it" in message
    assert MNIST(tmp_path, train=False, verify=False).targets[100 - 8] == raw[100]


def test_unverified_files_of_any_size_can_be_read(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
    dataset = MNIST(tmp_path, train=False, verify=False)
    assert len(dataset) == 5
    np.testing.assert_array_equal(dataset.images, images)


def test_swapped_files_fail_on_the_magic_number(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.arange(5, dtype=np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros((5, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz: bad magic number"):
        MNIST(tmp_path, train=False, verify=False)


def test_fashion_mnist_checks_its_own_checksums(mnist_dir, monkeypatch, tmp_path, closed_port_url):
    with pytest.raises(ValueError, match=r"MD5 mismatch: got .* expected bef4ecab"):
        FashionMNIST(mnist_dir, train=False)
    # Same format and file names: MNIST's files read as Fashion-MNIST once checks are off.
    unverified = FashionMNIST(mnist_dir, train=False, verify=False)
    assert len(unverified) == 10000 and len(unverified.classes) == 10
    monkeypatch.setenv("MINICNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("MINICNN_FASHION_MNIST_MIRRORS", closed_port_url)
    with pytest.raises(FileNotFoundError, match=f"not in {tmp_path / 'fashion-mnist'}"):
        FashionMNIST(train=False)
    with pytest.raises(DownloadError, match=f"{closed_port_url}t10k-images-idx3-ubyte.gz"):
        FashionMNIST(train=False, download=True, timeout=1)


def test_repr_shows_split_size_and_options(mnist_dir):
    dataset = MNIST(mnist_dir, train=False, dtype=np.float64, transform=Normalize(0.5, 0.25))
    assert repr(dataset) == (
        f"MNIST(split='test', 10000 images, root='{mnist_dir}', dtype=float64, "
        f"transform=Normalize(mean=0.5, std=0.25))"
    )
