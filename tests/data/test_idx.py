"""minicnn.data.idx: the IDX reader accepts what the writer writes and refuses broken files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minicnn.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    check_images_labels,
    parse_idx,
    read_idx,
    write_idx,
)

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def one_line_error(excinfo) -> str:
    """The error's message, checked to be a single line."""
    message = str(excinfo.value)
    assert "\n" not in message, f"error message spans several lines: {message!r}"
    return message


def test_real_test_files_parse_with_their_magic_numbers(mnist_dir):
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz", expected_magic=IMAGES_MAGIC)
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz", expected_magic=LABELS_MAGIC)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert images.flags.writeable, "read_idx should return an array that owns its memory"
    header = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())[:16]
    assert int.from_bytes(header[:4], "big") == 2051 == IMAGES_MAGIC


def test_real_training_set_has_the_documented_sizes(mnist_train):
    assert mnist_train.images.shape == (60000, 28, 28)
    assert mnist_train.images.dtype == np.uint8


@settings(max_examples=40, deadline=None)
@given(
    array=st.sampled_from(IDX_DTYPES).flatmap(
        lambda dtype: hnp.arrays(
            dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)
        )
    ),
    compress=st.booleans(),
)
def test_write_then_read_gives_back_the_array(tmp_path_factory, array, compress):
    path = tmp_path_factory.mktemp("idx") / "array.idx"
    write_idx(path, array, compress=compress)
    assert path.read_bytes().startswith(b"\x1f\x8b") == compress
    read_back = read_idx(path)
    assert read_back.dtype == array.dtype, "the element type should survive the round trip"
    assert read_back.dtype.isnative, "read_idx should return native byte order"
    np.testing.assert_array_equal(read_back, array)


def test_gzip_is_recognised_by_content_and_the_name_decides_compression(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    compressed = write_idx(tmp_path / "labels.gz", labels)
    assert compressed.read_bytes().startswith(b"\x1f\x8b"), "a .gz name should compress"
    renamed = compressed.rename(tmp_path / "labels-without-suffix")
    np.testing.assert_array_equal(read_idx(renamed), labels)
    raw = write_idx(tmp_path / "labels.idx", labels)
    assert raw.read_bytes()[:4] == bytes([0, 0, 0x08, 1]), "expected the plain IDX header"


def test_write_idx_is_deterministic(tmp_path):
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    second = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first == second, "the same array should give the same bytes (and MD5)"


def test_bad_magic_number_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"<html><body>Not Found</body></html>")
    with pytest.raises(ValueError, match="bad magic number") as excinfo:
        read_idx(path)
    message = one_line_error(excinfo)
    assert str(path) in message and "HTML" in message


def test_unknown_type_code_is_a_bad_magic_number():
    data = bytes([0, 0, 0x07, 1]) + (3).to_bytes(4, "big") + b"abc"
    with pytest.raises(ValueError, match=r"mystery\.idx: bad magic number 0x00000701") as excinfo:
        parse_idx(data, "mystery.idx")
    one_line_error(excinfo)


def test_labels_file_read_as_images_fails_on_the_magic_number(tmp_path):
    path = write_idx(tmp_path / "labels.gz", np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError) as excinfo:
        read_idx(path, expected_magic=IMAGES_MAGIC)
    message = one_line_error(excinfo)
    assert "0x00000801 (uint8, 1 dimension)" in message
    assert "expected 0x00000803 (uint8, 3 dimensions)" in message


def test_wrong_number_of_dimensions_fails_on_the_magic_number(tmp_path):
    path = write_idx(tmp_path / "images.gz", np.zeros((4, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"0x00000802 .*expected 0x00000803"):
        read_idx(path, expected_magic=IMAGES_MAGIC)


@pytest.mark.parametrize("length", [0, 3])
def test_file_too_short_for_a_magic_number(length):
    with pytest.raises(ValueError, match=f"{length} bytes long, too short") as excinfo:
        parse_idx(bytes(length), "tiny.idx")
    one_line_error(excinfo)


def test_truncated_header():
    data = bytes([0, 0, 0x08, 3]) + (10).to_bytes(4, "big")  # 3 sizes announced, 1 present
    with pytest.raises(ValueError, match="header is truncated") as excinfo:
        parse_idx(data, "cut.idx")
    one_line_error(excinfo)


def test_truncated_data_says_what_is_missing_and_what_to_do(tmp_path):
    path = write_idx(tmp_path / "images.idx", np.ones((3, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError) as excinfo:
        read_idx(path)
    message = one_line_error(excinfo)
    assert "truncated data" in message and "3 x 28 x 28 uint8 (2352 bytes)" in message
    assert "2252 bytes follow" in message and "download it again" in message


def test_bytes_after_the_data_are_an_error():
    data = bytes([0, 0, 0x0C, 1]) + (2).to_bytes(4, "big") + bytes(8) + b"extra"
    with pytest.raises(ValueError, match="5 unexpected bytes after the 2 int32 data") as excinfo:
        parse_idx(data, "long.idx")
    one_line_error(excinfo)


def test_truncated_gzip_is_reported_with_the_file_name(tmp_path):
    path = write_idx(tmp_path / "labels.gz", np.arange(1000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="gzip data is truncated or corrupt") as excinfo:
        read_idx(path)
    assert str(path) in one_line_error(excinfo)


def test_big_endian_values_are_decoded():
    data = bytes([0, 0, 0x0B, 1]) + (2).to_bytes(4, "big") + (258).to_bytes(2, "big") + b"\xff\xfe"
    values = parse_idx(data)
    assert values.tolist() == [258, -2], "int16 elements are stored big-endian"


def test_write_idx_rejects_types_and_shapes_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="got int64"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"1 to 255 dimensions, got shape \(\)"):
        write_idx(tmp_path / "b.idx", np.uint8(3))


def test_image_and_label_counts_must_match():
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    labels = np.zeros(4, dtype=np.uint8)
    with pytest.raises(ValueError) as excinfo:
        check_images_labels(images, labels, "img.gz", "lbl.gz")
    message = one_line_error(excinfo)
    assert "lbl.gz holds 4 labels but img.gz holds 5 images" in message


def test_image_size_and_label_range_are_checked():
    labels = np.array([0, 3, 9], dtype=np.uint8)
    with pytest.raises(ValueError, match="expected images of 28x28 pixels, got 32x32"):
        check_images_labels(np.zeros((3, 32, 32), np.uint8), labels, "i", "l", image_size=(28, 28))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 8\], found values from 0 to 9"):
        check_images_labels(np.zeros((3, 28, 28), np.uint8), labels, "i", "l", num_classes=9)
    check_images_labels(
        np.zeros((3, 28, 28), np.uint8), labels, "i", "l", image_size=(28, 28), num_classes=10
    )


@pytest.mark.parametrize("fault", ["bad magic", "short data", "short header", "bad gzip",
                                   "extra bytes"])
def test_every_file_fault_is_a_data_file_error(tmp_path, fault):
    """One class for a broken data file (a ValueError, as before), so the command line can
    report exactly these as one line and leave programming errors their traceback."""
    from minicnn.data import DataFileError

    path = write_idx(tmp_path / "images.idx", np.ones((2, 4, 4), dtype=np.uint8))
    data = path.read_bytes()
    damaged = {
        "bad magic": b"<htm" + data[4:],
        "short data": data[:-5],
        "short header": data[:9],
        "bad gzip": gzip.compress(data)[:-8],
        "extra bytes": data + b"x",
    }[fault]
    path.write_bytes(damaged)
    with pytest.raises(DataFileError) as excinfo:
        read_idx(path, expected_magic=IMAGES_MAGIC)
    assert isinstance(excinfo.value, ValueError)
    assert one_line_error(excinfo).startswith(f"{path}: ")
