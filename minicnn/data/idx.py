"""The IDX file format of MNIST and Fashion-MNIST: a reader that checks everything, and a writer.

An IDX file is a header followed by one array, stored in C order and big-endian::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    4 * d bytes the size of each dimension, big-endian uint32
    the rest    prod(sizes) elements

The first four bytes read as one big-endian integer are the *magic number*: MNIST images are
``0x00000803`` (2051: uint8, 3 dimensions ``(N, 28, 28)``) and labels ``0x00000801`` (2049: uint8,
1 dimension ``(N,)``). Files may be gzip-compressed (the ``.gz`` downloads); the reader recognises
gzip by its content, not by the file name.

Every error names the file, says what is wrong with it and what to do, in one sentence: a mirror
that answers with an HTML page, a download cut short or a file of the wrong kind fail here, loudly,
rather than as a reshape error somewhere in a training loop.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "DataFileError",
    "check_images_labels",
    "decompress",
    "parse_idx",
    "read_idx",
    "write_idx",
]

IMAGES_MAGIC = 0x00000803
"""Magic number of MNIST-style image files: uint8, 3 dimensions ``(N, H, W)``."""
LABELS_MAGIC = 0x00000801
"""Magic number of MNIST-style label files: uint8, 1 dimension ``(N,)``."""

# IDX type code -> element type. Multi-byte types are big-endian on disk ('>').
_DTYPE_OF_CODE = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF_DTYPE = {dtype.newbyteorder("="): code for code, dtype in _DTYPE_OF_CODE.items()}
_GZIP_SIGNATURE = b"\x1f\x8b"


class DataFileError(ValueError):
    """A data file that cannot be used: truncated, corrupt, failing its checksum, or not the
    file its name says. The message names the file, what is wrong and what to do."""


_RETRY_ADVICE = "delete it and download it again, or replace it with a good copy"


def _describe_magic(magic: int) -> str:
    """``0x00000803 (uint8, 3 dimensions)``: a magic number and what it would mean."""
    code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    dtype = _DTYPE_OF_CODE.get(code)
    kind = dtype.newbyteorder("=").name if dtype is not None else f"unknown type 0x{code:02X}"
    return f"0x{magic:08X} ({kind}, {ndim} dimension{'s' if ndim != 1 else ''})"


def decompress(data: bytes, source: str = "<bytes>") -> bytes:
    """Return ``data`` uncompressed if it is gzip (recognised by its first two bytes), else as is.

    Raises:
        DataFileError: the gzip stream is truncated or corrupt.
    """
    if not data.startswith(_GZIP_SIGNATURE):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataFileError(
            f"{source}: the gzip data is truncated or corrupt ({error}); {_RETRY_ADVICE}"
        ) from None


def parse_idx(data: bytes, source: str = "<bytes>", *, expected_magic: int | None = None):
    """Parse the (uncompressed) bytes of an IDX file into an array.

    Args:
        data: the whole file's content, already uncompressed (see :func:`decompress`).
        source: the file name to put in error messages.
        expected_magic: if given, the magic number the file must have (for instance
            :data:`IMAGES_MAGIC`), so that a labels file passed as images fails here.

    Returns:
        A new, writable array in native byte order, of the shape and element type the header
        states (``(N, 28, 28)`` uint8 for MNIST images, ``(N,)`` uint8 for labels).

    Raises:
        DataFileError: bad magic number, truncated header or data, or bytes after the data.
    """
    if len(data) < 4:
        raise DataFileError(
            f"{source}: the file is {len(data)} bytes long, too short for the 4-byte IDX magic "
            f"number; {_RETRY_ADVICE}"
        )
    magic = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if data[:2] != b"\x00\x00" or code not in _DTYPE_OF_CODE:
        hint = " (it looks like an HTML page, not data)" if data.lstrip()[:1] == b"<" else ""
        raise DataFileError(
            f"{source}: bad magic number 0x{magic:08X}{hint}: an IDX file starts with 0x0000 and "
            f"a type code in {{08, 09, 0B, 0C, 0D, 0E}}; check that this is an IDX file, or "
            f"{_RETRY_ADVICE}"
        )
    if expected_magic is not None and magic != expected_magic:
        raise DataFileError(
            f"{source}: bad magic number {_describe_magic(magic)}, expected "
            f"{_describe_magic(expected_magic)}; check that the file is the one its name says"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataFileError(
            f"{source}: the header is truncated: {ndim} dimension sizes need {header_size} bytes, "
            f"the file has {len(data)}; {_RETRY_ADVICE}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _DTYPE_OF_CODE[code]
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual_bytes = len(data) - header_size
    described = f"{' x '.join(map(str, shape)) or 'scalar'} {dtype.newbyteorder('=').name}"
    if actual_bytes < expected_bytes:
        raise DataFileError(
            f"{source}: truncated data: the header promises {described} ({expected_bytes} bytes) "
            f"but only {actual_bytes} bytes follow it; {_RETRY_ADVICE}"
        )
    if actual_bytes > expected_bytes:
        raise DataFileError(
            f"{source}: {actual_bytes - expected_bytes} unexpected bytes after the {described} "
            f"data the header describes; the file is corrupt or not IDX: {_RETRY_ADVICE}"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=header_size)
    # astype to native order always copies: the result owns writable memory instead of viewing
    # the (read-only) bytes object.
    return flat.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def read_idx(path: str | os.PathLike, *, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, with the checks of :func:`parse_idx`."""
    path = Path(path)
    data = decompress(path.read_bytes(), str(path))
    return parse_idx(data, str(path), expected_magic=expected_magic)


def write_idx(path: str | os.PathLike, array, *, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (the inverse of :func:`read_idx`) and return its path.

    Args:
        path: where to write; the file is gzip-compressed when the name ends in ``.gz``,
            unless ``compress`` says otherwise.
        array: an array of uint8, int8, int16, int32, float32 or float64, with 1 to 255
            dimensions.
        compress: force (True) or prevent (False) gzip compression.

    Raises:
        TypeError: the element type has no IDX type code.
        ValueError: the array has no dimensions or more than 255.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_OF_DTYPE:
        raise TypeError(
            f"write_idx: IDX stores uint8, int8, int16, int32, float32 or float64 arrays, got "
            f"{array.dtype}; convert the array with astype first"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: IDX stores 1 to 255 dimensions, got shape {array.shape}")
    code = _CODE_OF_DTYPE[native]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape
    )
    body = np.ascontiguousarray(array, dtype=_DTYPE_OF_CODE[code]).tobytes()
    content = header + body
    if compress if compress is not None else path.suffix == ".gz":
        # mtime=0 makes the file's bytes (and so its MD5) depend on the array alone.
        content = gzip.compress(content, mtime=0)
    path.write_bytes(content)
    return path


def check_images_labels(
    images: np.ndarray,
    labels: np.ndarray,
    images_source: str,
    labels_source: str,
    *,
    image_size: tuple[int, int] | None = None,
    num_classes: int | None = None,
) -> None:
    """Check that an images file and a labels file belong together.

    Args:
        images: ``(N, H, W)`` array read from ``images_source``.
        labels: ``(N,)`` array read from ``labels_source``.
        image_size: the ``(H, W)`` every image must have, if given.
        num_classes: if given, every label must be in ``[0, num_classes)``.

    Raises:
        DataFileError: the counts differ, an image has the wrong size or a label is out of
            range.
    """
    if len(images) != len(labels):
        raise DataFileError(
            f"{labels_source} holds {len(labels)} labels but {images_source} holds "
            f"{len(images)} images; the two files do not belong together: use the matching pair"
        )
    if image_size is not None and images.shape[1:] != tuple(image_size):
        raise DataFileError(
            f"{images_source}: expected images of {image_size[0]}x{image_size[1]} pixels, got "
            f"{'x'.join(map(str, images.shape[1:]))}; check that the file is the one its name says"
        )
    if num_classes is not None and len(labels) > 0:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= num_classes:
            raise DataFileError(
                f"{labels_source}: labels must lie in [0, {num_classes - 1}], found values from "
                f"{low} to {high}; check that the file is the one its name says"
            )
