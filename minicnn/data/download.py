"""Fetching data files: cache folder, mirrors tried in turn, MD5 checks, atomic writes.

A file is described by a :class:`RemoteFile`: its name and the checksums of the official release.
:func:`download` tries each mirror in turn and keeps the first copy whose checksum is right;
:func:`read_verified` reads a local copy and checks it the same way. Two rules keep the cache sound:

* A download goes to a hidden temporary file in the destination folder, is verified, and only
  then renamed (``os.replace``, atomic on one file system) to its final name. A download that is
  cut short, or a mirror that serves something else, never leaves a file that looks finished.
* A checksum is accepted in either form: the MD5 of the official ``.gz`` file, or the MD5 of the
  uncompressed IDX bytes. The second survives re-compression, so a mirror (or a local folder)
  that re-packed the same data, or stores it uncompressed, is still recognised.

HTTP uses ``urllib`` from the standard library, with a timeout. ``file://`` mirrors work too.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from minicnn.data.idx import DataFileError, decompress

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_TIMEOUT",
    "DownloadError",
    "RemoteFile",
    "check_md5",
    "default_cache_dir",
    "download",
    "file_md5",
    "find_local_copy",
    "mirrors_from_env",
    "read_verified",
]

CACHE_DIR_ENV = "MINICNN_CACHE_DIR"
"""Environment variable naming the cache folder (default ``~/.cache/minicnn``)."""
DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for a mirror to connect, and for each read, before trying the next one."""

_CHUNK_BYTES = 1 << 20
_NOT_THE_RELEASE = ("the file is corrupt or not the official release: delete it so that it is "
                    "downloaded again (or replace it with a good copy), or pass verify=False to "
                    "use it as it is")
_GZIP_SIGNATURE = b"\x1f\x8b"


class DownloadError(OSError):
    """No mirror gave a good copy of a file (unreachable, HTTP error or checksum mismatch)."""


@dataclass(frozen=True)
class RemoteFile:
    """One data file of a dataset and the checksums a good copy must match (either one).

    Attributes:
        name: the file's name without ``.gz``, e.g. ``"train-images-idx3-ubyte"``; mirrors
            serve it as ``name + ".gz"`` (or, failing that, as ``name`` uncompressed).
        gz_md5: MD5 of the official gzip-compressed file.
        raw_md5: MD5 of the uncompressed content, or ``None`` if unknown.
    """

    name: str
    gz_md5: str
    raw_md5: str | None = None

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"


def default_cache_dir() -> Path:
    """The folder under which datasets are downloaded.

    ``$MINICNN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/minicnn``, else ``~/.cache/minicnn``.
    """
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "minicnn"
    return Path.home() / ".cache" / "minicnn"


def mirrors_from_env(env_var: str, defaults: Iterable[str]) -> tuple[str, ...]:
    """The mirror URLs listed in ``env_var`` (separated by commas or spaces), else ``defaults``."""
    listed = os.environ.get(env_var, "").replace(",", " ").split()
    return tuple(listed) if listed else tuple(defaults)


def find_local_copy(folder: str | os.PathLike, remote: RemoteFile) -> Path | None:
    """``folder/name.gz``, else the uncompressed ``folder/name``; ``None`` if neither exists."""
    for filename in (remote.gz_name, remote.name):
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    return None


def file_md5(path: str | os.PathLike) -> str:
    """The MD5 of a file's bytes, read in chunks (a large archive is never held whole)."""
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _checksum_problem(data: bytes, content: bytes, remote: RemoteFile) -> str | None:
    """``None`` if ``data`` (a file as stored, ``content`` uncompressed) is a good copy of
    ``remote``, else what is wrong with it."""
    file_md5 = hashlib.md5(data).hexdigest()
    if file_md5 == remote.gz_md5:
        return None
    content_md5 = file_md5 if content is data else hashlib.md5(content).hexdigest()
    if remote.raw_md5 is not None and content_md5 == remote.raw_md5:
        return None
    expected = f"{remote.gz_md5} for the .gz"
    if remote.raw_md5 is not None:
        expected += f" or {remote.raw_md5} uncompressed"
    got = file_md5 + (f" (uncompressed {content_md5})" if content is not data else "")
    if remote.raw_md5 is None and content is data:
        expected += " (only the .gz checksum is known, so keep files compressed)"
    return f"MD5 mismatch: got {got}, expected {expected}"


def read_verified(path: str | os.PathLike, remote: RemoteFile, *, verify: bool = True) -> bytes:
    """Read a local copy of ``remote`` and return its uncompressed content.

    Args:
        path: the file, gzip-compressed or not.
        remote: the checksums it must match.
        verify: check the MD5; pass ``False`` to read files that are not the official release
            (for instance a subset written with :func:`minicnn.data.idx.write_idx`).

    Raises:
        DataFileError: the MD5 matches neither checksum, or the gzip data is corrupt.
    """
    path = Path(path)
    data = path.read_bytes()
    content = decompress(data, str(path))
    if verify:
        problem = _checksum_problem(data, content, remote)
        if problem is not None:
            raise DataFileError(f"{path}: {problem}; {_NOT_THE_RELEASE}")
    return content


def check_md5(path: str | os.PathLike, remote: RemoteFile) -> None:
    """Check that the file at ``path`` is ``remote`` as published: its MD5 is ``gz_md5``.

    For files kept as they are published (an archive): read in chunks, never decompressed.

    Raises:
        DataFileError: the MD5 differs.
    """
    got = file_md5(path)
    if got != remote.gz_md5:
        raise DataFileError(
            f"{path}: MD5 mismatch: got {got}, expected {remote.gz_md5}; {_NOT_THE_RELEASE}")


class _BadCopyError(ValueError):
    """A mirror answered, but with something that is not a good copy of the file."""


def _fetch_to(url: str, destination, timeout: float) -> None:
    """Stream ``url`` into the open binary file ``destination``."""
    # Imported here: urllib.request pulls in http.client, ssl and email (~35 ms), which a program
    # that reads data already on disk never needs.
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "minicnn"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        announced = response.headers.get("Content-Length")
        received = 0
        while chunk := response.read(_CHUNK_BYTES):
            destination.write(chunk)
            received += len(chunk)
    # http.client reports a connection closed early as a plain end of data: compare with the
    # announced length so that a cut transfer is named as such, not as a checksum mismatch.
    if announced is not None and announced.isdigit() and received != int(announced):
        raise _BadCopyError(f"the transfer was cut short: {received} of {announced} bytes")


def _download_verified(url: str, remote: RemoteFile, folder: Path, timeout: float) -> Path:
    """Fetch ``url`` into a temporary file in ``folder``, verify it, then give it its name.

    Whatever goes wrong (network, checksum, an interrupt), the temporary file is removed.
    """
    handle, partial_name = tempfile.mkstemp(dir=folder, prefix=f".{remote.name}.", suffix=".part")
    partial_path = Path(partial_name)
    try:
        with os.fdopen(handle, "w+b") as partial:
            _fetch_to(url, partial, timeout)
        # The official file, recognised by its MD5 alone, is never held in memory or
        # decompressed (an archive of 170 MB); anything else is examined to say what it is.
        if file_md5(partial_path) != remote.gz_md5:
            data = partial_path.read_bytes()
            try:
                content = decompress(data, url)
            except ValueError:
                raise _BadCopyError("the gzip data is truncated or corrupt") from None
            problem = _checksum_problem(data, content, remote)
            if problem is not None:
                raise _BadCopyError(problem)
        with open(partial_path, "rb") as partial:
            compressed = partial.read(len(_GZIP_SIGNATURE)) == _GZIP_SIGNATURE
        final_path = folder / (remote.gz_name if compressed else remote.name)
        os.replace(partial_path, final_path)
        return final_path
    finally:
        partial_path.unlink(missing_ok=True)


def _describe_failure(error: BaseException) -> str:
    import urllib.error

    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP error {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, _BadCopyError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def download(
    remote: RemoteFile,
    folder: str | os.PathLike,
    mirrors: Iterable[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    advice: str = "check the network connection, or download the files yourself and pass "
    "their folder as root=",
    quiet: bool = False,
) -> Path:
    """Download ``remote`` into ``folder`` from the first mirror that serves a good copy.

    Each mirror is a base URL; the file is fetched as ``mirror/name.gz`` and, if that is not
    found (HTTP 404) and the uncompressed content's checksum is known, as ``mirror/name``
    uncompressed. Each copy goes to a temporary file in
    ``folder``, is checked against ``remote``'s checksums, and only then is renamed to
    ``folder/name.gz`` (or ``folder/name`` if the content is uncompressed). Nothing else is
    ever left in ``folder``.

    Args:
        remote: the file and its checksums.
        folder: destination; created if missing.
        mirrors: base URLs, tried in order.
        timeout: seconds to wait to connect to a mirror, and for each read.
        advice: what the user can do, appended to the error if every mirror fails.
        quiet: do not print a line to stderr for each download.

    Returns:
        The path of the verified file.

    Raises:
        DownloadError: every mirror failed; the message lists each URL and why it failed.
    """
    import http.client
    import urllib.error

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        base = mirror.rstrip("/")
        # An uncompressed copy can only be recognised by the checksum of the content.
        names = (remote.gz_name, remote.name) if remote.raw_md5 is not None else (remote.gz_name,)
        for filename in names:
            url = f"{base}/{filename}"
            if not quiet:
                print(f"Downloading {url}", file=sys.stderr)
            try:
                return _download_verified(url, remote, folder, timeout)
            # OSError covers URLError, HTTPError, timeouts and refused connections; ValueError
            # a malformed URL or corrupt gzip; HTTPException a connection cut mid-transfer.
            except (OSError, ValueError, http.client.HTTPException) as error:
                failures.append(f"{url}: {_describe_failure(error)}")
                not_found = isinstance(error, urllib.error.HTTPError) and error.code == 404
                if not not_found:
                    break  # only a missing .gz sends us to the uncompressed name on this mirror
    if not failures:
        raise DownloadError(f"Could not download {remote.gz_name}: no mirror was given; {advice}")
    raise DownloadError(
        f"Could not download {remote.gz_name} into {folder}: {'; '.join(failures)}; {advice}"
    )
