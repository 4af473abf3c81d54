"""minicnn.data.download, for real against HTTP servers on 127.0.0.1 serving the MNIST files.

The small test-labels file (10 kB) stands for every file: what holds for it holds for the rest.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import shutil
import time

import pytest

from minicnn.data.download import (
    CACHE_DIR_ENV,
    DownloadError,
    RemoteFile,
    default_cache_dir,
    download,
    find_local_copy,
    mirrors_from_env,
    read_verified,
)
from minicnn.data.mnist import MNIST

LABELS = MNIST.test_files[1]  # t10k-labels-idx1-ubyte, with the official checksums


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, f"error message spans several lines: {message!r}"
    return message


@pytest.fixture
def good_mirror(serve_directory, mnist_dir) -> str:
    return serve_directory(mnist_dir)


@pytest.fixture
def labels_content(mnist_dir) -> bytes:
    return gzip.decompress((mnist_dir / LABELS.gz_name).read_bytes())


def mirror_with(tmp_path, serve_directory, name: str, content: bytes) -> str:
    """Serve a folder holding one file ``name`` with ``content``."""
    folder = tmp_path / f"mirror-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    (folder / name).write_bytes(content)
    return serve_directory(folder)


def corrupted(content: bytes) -> bytes:
    """The same IDX file with one label changed: well-formed, but not the official data."""
    altered = bytearray(content)
    altered[-1] = (altered[-1] + 1) % 10
    return gzip.compress(bytes(altered))


def test_download_into_an_empty_cache_verifies_the_file(tmp_path, good_mirror, labels_content):
    cache = tmp_path / "cache" / "mnist"  # does not exist yet
    path = download(LABELS, cache, [good_mirror], quiet=True)
    assert path == cache / LABELS.gz_name
    assert sorted(p.name for p in cache.iterdir()) == [LABELS.gz_name], "only the file remains"
    assert read_verified(path, LABELS) == labels_content


def test_a_corrupted_first_mirror_falls_through_to_a_good_one(
    tmp_path, serve_directory, good_mirror, labels_content
):
    bad_mirror = mirror_with(tmp_path, serve_directory, LABELS.gz_name, corrupted(labels_content))
    cache = tmp_path / "cache"
    path = download(LABELS, cache, [bad_mirror, good_mirror], quiet=True)
    assert read_verified(path, LABELS) == labels_content, "expected the good mirror's copy"
    assert [p.name for p in cache.iterdir()] == [LABELS.gz_name]


def test_every_mirror_bad_raises_a_clear_error_and_leaves_nothing(
    tmp_path, serve_directory, labels_content
):
    altered = mirror_with(tmp_path, serve_directory, LABELS.gz_name, corrupted(labels_content))
    truncated_gz = gzip.compress(labels_content)[:-50]
    cut_short = mirror_with(tmp_path, serve_directory, LABELS.gz_name, truncated_gz)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as excinfo:
        download(LABELS, cache, [altered, cut_short], quiet=True, advice="pass --data-dir")
    message = one_line_error(excinfo)
    assert message.startswith(f"Could not download {LABELS.gz_name} into {cache}")
    assert f"{altered}{LABELS.gz_name}: MD5 mismatch" in message
    assert f"expected {LABELS.gz_md5} for the .gz or {LABELS.raw_md5} uncompressed" in message
    assert f"{cut_short}{LABELS.gz_name}: " in message and "truncated or corrupt" in message
    assert message.endswith("; pass --data-dir")
    assert list(cache.iterdir()) == [], "a failed download must leave no file behind"


def test_an_unreachable_mirror_then_a_good_one(
    tmp_path, closed_port_url, good_mirror, labels_content
):
    path = download(LABELS, tmp_path, [closed_port_url, good_mirror], quiet=True)
    assert read_verified(path, LABELS) == labels_content


def test_an_unresponsive_mirror_times_out(tmp_path, silent_server_url, good_mirror):
    start = time.monotonic()
    path = download(LABELS, tmp_path, [silent_server_url, good_mirror], timeout=0.3, quiet=True)
    assert time.monotonic() - start < 5, "the timeout should bound the wait on a silent mirror"
    assert path.name == LABELS.gz_name


def test_a_connection_cut_mid_transfer_leaves_nothing(tmp_path, start_server):
    class CutShort(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "10008")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + bytes(98))  # then the connection closes

        def log_message(self, format, *args):
            pass

    mirror = start_server(CutShort)
    with pytest.raises(DownloadError, match="cut short: 100 of 10008 bytes") as excinfo:
        download(LABELS, tmp_path, [mirror], quiet=True)
    one_line_error(excinfo)
    assert list(tmp_path.iterdir()) == []


def test_a_mirror_with_only_uncompressed_files_is_accepted(
    tmp_path, serve_directory, labels_content
):
    raw_mirror = mirror_with(tmp_path, serve_directory, LABELS.name, labels_content)
    cache = tmp_path / "cache"
    path = download(LABELS, cache, [raw_mirror], quiet=True)
    assert path == cache / LABELS.name, "uncompressed content is stored without .gz"
    assert hashlib.md5(path.read_bytes()).hexdigest() == LABELS.raw_md5
    assert read_verified(path, LABELS) == labels_content


def test_uncompressed_bytes_under_the_gz_name_are_stored_as_what_they_are(
    tmp_path, serve_directory, labels_content
):
    mirror = mirror_with(tmp_path, serve_directory, LABELS.gz_name, labels_content)
    path = download(LABELS, tmp_path / "cache", [mirror], quiet=True)
    assert path.name == LABELS.name


def test_missing_everywhere_lists_each_url_tried(tmp_path, serve_directory):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    mirror = serve_directory(empty)
    with pytest.raises(DownloadError) as excinfo:
        download(LABELS, tmp_path / "cache", [mirror], quiet=True)
    message = one_line_error(excinfo)
    assert f"{mirror}{LABELS.gz_name}: HTTP error 404" in message
    assert f"{mirror}{LABELS.name}: HTTP error 404" in message


def test_no_mirror_at_all(tmp_path):
    with pytest.raises(DownloadError, match="no mirror was given"):
        download(LABELS, tmp_path, [], quiet=True)


def test_download_announces_each_url_on_stderr(tmp_path, good_mirror, capsys):
    download(LABELS, tmp_path, [good_mirror])
    assert capsys.readouterr().err == f"Downloading {good_mirror}{LABELS.gz_name}\n"


def test_read_verified_accepts_either_checksum(tmp_path, labels_content):
    # Compressed anew (another gzip header), the file's MD5 is not the official .gz's: only
    # the MD5 of the uncompressed content matches.
    recompressed = tmp_path / LABELS.gz_name
    recompressed.write_bytes(gzip.compress(labels_content, mtime=1))
    gz_md5 = hashlib.md5(recompressed.read_bytes()).hexdigest()
    assert gz_md5 != LABELS.gz_md5, "a gzip written anew should not be the official file"
    assert read_verified(recompressed, LABELS) == labels_content
    only_gz_known = RemoteFile(LABELS.name, gz_md5=gz_md5, raw_md5=None)
    assert read_verified(recompressed, only_gz_known) == labels_content


def test_read_verified_refuses_a_file_that_is_not_the_release(tmp_path, labels_content):
    path = tmp_path / LABELS.gz_name
    path.write_bytes(corrupted(labels_content))
    with pytest.raises(ValueError) as excinfo:
        read_verified(path, LABELS)
    message = one_line_error(excinfo)
    assert str(path) in message and "MD5 mismatch" in message and "verify=False" in message
    assert read_verified(path, LABELS, verify=False) == gzip.decompress(path.read_bytes())


def test_find_local_copy_prefers_gz_then_uncompressed(tmp_path, mnist_dir):
    assert find_local_copy(tmp_path, LABELS) is None
    (tmp_path / LABELS.name).write_bytes(b"raw")
    assert find_local_copy(tmp_path, LABELS) == tmp_path / LABELS.name
    shutil.copy(mnist_dir / LABELS.gz_name, tmp_path)
    assert find_local_copy(tmp_path, LABELS) == tmp_path / LABELS.gz_name


def test_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "minicnn"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "minicnn"
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_mirrors_from_env_splits_on_commas_and_spaces(monkeypatch):
    defaults = ("https://a.example/",)
    monkeypatch.delenv("TEST_MIRRORS", raising=False)
    assert mirrors_from_env("TEST_MIRRORS", defaults) == defaults
    monkeypatch.setenv("TEST_MIRRORS", " http://x/ , http://y/  http://z/")
    assert mirrors_from_env("TEST_MIRRORS", defaults) == ("http://x/", "http://y/", "http://z/")
