"""Where the tests find MNIST: the way ``minicnn train`` does, or a folder named by the user.

1. ``$MINICNN_MNIST_DIR``, when set: a folder holding the four IDX files, used as it is.
2. Else minicnn's download cache, ``<cache>/mnist`` (``<cache>`` is ``$MINICNN_CACHE_DIR`` or
   ``~/.cache/minicnn``): each missing file is downloaded from the mirrors
   (``$MINICNN_MNIST_MIRRORS``, else minicnn's public ones) by minicnn's own downloader, which
   checks its MD5 and renames it into place only when whole. One process at a time fetches
   (a lock file in the cache), so the workers of ``pytest -n 2`` download the files once.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["MNIST_DIR_ENV", "MnistUnavailableError", "mnist_folder"]

MNIST_DIR_ENV = "MINICNN_MNIST_DIR"


class MnistUnavailableError(RuntimeError):
    """MNIST is neither in ``$MINICNN_MNIST_DIR`` nor in the cache, nor downloadable."""


@contextlib.contextmanager
def _one_process_at_a_time(lock_path: Path):
    try:
        import fcntl
    except ImportError:  # Windows: downloads are atomic anyway; two may just both fetch
        yield
        return
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def mnist_folder() -> Path:
    """The folder of MNIST's four IDX files, downloading them into the cache if need be.

    Raises:
        MnistUnavailableError: with one line that says what to set.
    """
    from minicnn.data import MNIST
    from minicnn.data.download import (
        DownloadError,
        default_cache_dir,
        download,
        find_local_copy,
        mirrors_from_env,
    )

    files = (*MNIST.train_files, *MNIST.test_files)
    configured = os.environ.get(MNIST_DIR_ENV)
    if configured:
        folder = Path(configured).expanduser()
        missing = [remote.gz_name for remote in files if find_local_copy(folder, remote) is None]
        if missing:
            raise MnistUnavailableError(
                f"{MNIST_DIR_ENV}={configured} lacks {', '.join(missing)}: point it at a folder "
                "holding the four MNIST IDX files, or unset it to download them into the cache")
        return folder
    folder = default_cache_dir() / MNIST.cache_subdir
    folder.mkdir(parents=True, exist_ok=True)
    mirrors = mirrors_from_env(MNIST.mirrors_env, MNIST.default_mirrors)
    with _one_process_at_a_time(folder / ".download.lock"):
        for remote in files:
            if find_local_copy(folder, remote) is not None:
                continue
            try:
                download(remote, folder, mirrors, quiet=True, advice="")
            except DownloadError as error:
                # The error reads "Could not download NAME into FOLDER: URL: why; ...; advice".
                why = str(error).partition(f"{folder}: ")[2].rstrip("; ") or str(error)
                raise MnistUnavailableError(
                    f"MNIST is not in {folder} and could not be downloaded ({why}): set "
                    f"{MNIST_DIR_ENV} to a folder holding the four IDX .gz files, or "
                    f"{MNIST.mirrors_env} to a mirror that serves them") from None
    return folder
