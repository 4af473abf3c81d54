"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from minicnn.distributed.communicator import Communicator

REPO_ROOT = Path(__file__).resolve().parents[1]

# Hypothesis: no per-example deadline (the machines are shared and noisy; timing is the
# benchmark suite's business), and the same examples on every run in CI so a failure repeats.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def find_mnist_dir() -> Path:
    """The four MNIST IDX files: ``$MINICNN_MNIST_DIR`` or ``../shared/data/mnist``."""
    configured = os.environ.get("MINICNN_MNIST_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = find_mnist_dir()
    if not (path / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(
            f"MNIST not found at {path}: set MINICNN_MNIST_DIR to the folder holding the four "
            "IDX .gz files"
        )
    return path


class ThreadRank(Communicator):
    """One rank of a group whose ranks are threads of this process (for tests without MPI).

    Each collective operation is an exchange through a shared list between two barriers;
    sums are added in rank order, as an MPI library's may not be, so results are exact to
    compare with one process summing the same parts in the same order.
    """

    def __init__(self, shared: dict, rank: int, size: int):
        super().__init__()
        self._shared, self.rank, self.size = shared, rank, size

    def _exchange(self, value):
        slots, barrier = self._shared["slots"], self._shared["barrier"]
        slots[self.rank] = value
        barrier.wait()
        values = list(slots)
        barrier.wait()  # nobody overwrites a slot before everyone has read them all
        return values

    def allreduce(self, array):
        values = self._exchange(array.copy())
        total = values[0].copy()
        for value in values[1:]:
            total += value
        array[...] = total
        return array

    def allgather(self, array):
        return np.stack(self._exchange(np.asarray(array)))

    def broadcast(self, value):
        return self._exchange(value)[0]

    def gather_objects(self, value):
        return self._exchange(value)

    def abort(self, status: int = 1) -> None:
        raise RuntimeError(f"rank {self.rank} aborted with status {status}")


def run_on_thread_ranks(size: int, work: Callable[[ThreadRank], Any]) -> list:
    """``work(rank)`` on ``size`` threads forming a group; their results in rank order (the
    first exception raised, raised again)."""
    shared = {"slots": [None] * size, "barrier": threading.Barrier(size, timeout=60)}
    results, errors = [None] * size, []

    def target(rank: int) -> None:
        try:
            results[rank] = work(ThreadRank(shared, rank, size))
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)
            shared["barrier"].abort()

    threads = [threading.Thread(target=target, args=(rank,)) for rank in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def thread_ranks():
    """:func:`run_on_thread_ranks`: ``results = thread_ranks(size, work)``."""
    return run_on_thread_ranks
