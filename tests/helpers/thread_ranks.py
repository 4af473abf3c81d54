"""Ranks that are threads of the test's process: collective operations without MPI.

A :class:`ThreadRank` is a :class:`~minicnn.distributed.Communicator` whose group is a few
threads; :func:`run_on_thread_ranks` runs one function on each and returns their results.
DataParallel, SyncBatchNorm and the Trainer are tested on them in one process, and exactly:
sums are added in rank order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from minicnn.distributed.communicator import Communicator

__all__ = ["ThreadRank", "run_on_thread_ranks"]


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
