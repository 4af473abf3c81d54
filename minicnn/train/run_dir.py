"""A run directory: what one training run leaves behind.

::

    RUN_DIR/
      config.json              the TrainConfig
      metrics.jsonl            one JSON object per epoch (loss, accuracy, lr, images/s, ...)
      checkpoint.safetensors   everything needed to resume (weights, optimiser, scheduler,
                               data order, RNG, progress), rewritten atomically each epoch
      last.safetensors         the latest weights, loadable by PyTorch as they are
      best.safetensors         the weights with the best test accuracy so far
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from minicnn.train.checkpoint import _current_umask, atomic_write_bytes, fsync_directory

__all__ = ["RunDir"]


def _free_path(out_dir: str | os.PathLike, name: str) -> Path:
    """``out_dir/<name>-<timestamp>``, suffixed ``-2``, ``-3``... if that exists."""
    stem = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = Path(out_dir) / stem
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(out_dir) / f"{stem}-{suffix}"
    return path


class RunDir:
    """Paths and the metrics log of one run directory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @classmethod
    def create(cls, out_dir: str | os.PathLike, name: str) -> RunDir:
        """A new, empty directory ``out_dir/<name>-<timestamp>`` (suffixed if it exists)."""
        path = _free_path(out_dir, name)
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def create_complete(cls, out_dir: str | os.PathLike, name: str,
                        fill: Callable[[RunDir], None]) -> RunDir:
        """A new directory ``out_dir/<name>-<timestamp>`` that appears with all its files or
        not at all.

        ``fill(run_dir)`` writes the files into a hidden temporary directory in ``out_dir``,
        which is then renamed to its name: a crash or an error in ``fill`` leaves no
        half-written run for ``minicnn evaluate`` or ``--resume`` to trip over.
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=f".{name}-", suffix=".tmp", dir=out_dir))
        try:
            # mkdtemp makes the directory private (0700); give it what mkdir would have.
            os.chmod(temp, 0o777 & ~_current_umask())
            fill(cls(temp))
            path = _free_path(out_dir, name)
            os.rename(temp, path)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        fsync_directory(out_dir)
        return cls(path)

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.safetensors"

    @property
    def last_weights(self) -> Path:
        return self.path / "last.safetensors"

    @property
    def best_weights(self) -> Path:
        return self.path / "best.safetensors"

    def append_metrics(self, record: dict) -> None:
        with self.metrics.open("a") as log:
            log.write(json.dumps(record) + "\n")
            log.flush()
            os.fsync(log.fileno())

    def read_metrics(self) -> list[dict]:
        """The records, in order. A last line without its newline is a write cut short by
        a crash; it is left out (resuming rewrites that epoch's record)."""
        if not self.metrics.exists():
            return []
        lines = self.metrics.read_text().split("\n")
        return [json.loads(line) for line in lines[:-1] if line]

    def truncate_metrics(self, epochs: int) -> None:
        """Keep the first ``epochs`` records: a resumed run rewrites what came after."""
        kept = [record for record in self.read_metrics() if record["epoch"] <= epochs]
        text = "".join(json.dumps(record) + "\n" for record in kept)
        atomic_write_bytes(self.metrics, text.encode())
