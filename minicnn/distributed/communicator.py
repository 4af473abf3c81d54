"""The few collective operations data-parallel training needs, behind one small interface.

A :class:`Communicator` is a group of ``size`` processes (ranks) that all call the same
collective operations in the same order. minicnn needs five:

* :meth:`~Communicator.allreduce`: every rank's array summed element-wise, the sum left in
  every rank's array (the gradient average, SyncBatchNorm's backward sums);
* :meth:`~Communicator.allgather`: every rank's small array, stacked in rank order
  (SyncBatchNorm's per-rank statistics: combined in rank order, so every rank gets the same
  bits);
* :meth:`~Communicator.broadcast`: rank 0's Python object on every rank (the initial
  weights, a checkpoint, the run directory's path);
* :meth:`~Communicator.gather_objects`: every rank's Python object, as a list on every rank
  (evaluation results, random-generator states);
* :meth:`~Communicator.abort`: end every rank of the job at once;

and :meth:`~Communicator.run_on_root` builds on broadcast: rank 0 does something (reads the
run directory), every rank gets the result or the same exception.

:class:`SingleProcess` is the group of one: every operation is the identity, so code written
for data parallelism runs unchanged in one process, and :class:`minicnn.nn.SyncBatchNorm`
without a distributed job is a BatchNorm. The MPI implementation
(:class:`minicnn.distributed.mpi.MPICommunicator`) is in its own module, so that nothing here
imports ``mpi4py``: ``import minicnn`` and plain ``minicnn train`` never load MPI.

:func:`get_world` is the group that layers use when they are given none (what
``torch.distributed``'s default process group is); :func:`set_world` sets it, as
:func:`minicnn.distributed.init` does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["Communicator", "SingleProcess", "get_world", "set_world"]


class Communicator:
    """A group of ``size`` processes; this one is number ``rank`` (0 to ``size - 1``).

    Attributes:
        seconds: time spent inside collective operations so far (a float, reset by the
            caller), for the "time in communication" figure of a training step.
    """

    rank: int = 0
    size: int = 1

    def __init__(self):
        self.seconds = 0.0

    def allreduce(self, array: np.ndarray) -> np.ndarray:
        """Sum ``array`` (C-contiguous) over every rank, in place; returns it."""
        raise NotImplementedError

    def allgather(self, array: np.ndarray) -> np.ndarray:
        """Every rank's ``array`` (same shape and dtype on each), stacked: ``(size, *shape)``."""
        raise NotImplementedError

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object), returned on every rank."""
        raise NotImplementedError

    def gather_objects(self, value: Any) -> list:
        """Every rank's ``value``, as a list in rank order, returned on every rank."""
        raise NotImplementedError

    def abort(self, status: int = 1) -> None:
        """End every process of the group now, with exit status ``status``; never returns."""
        raise NotImplementedError

    def run_on_root(self, function: Callable[[], Any]) -> Any:
        """``function()`` called on rank 0 alone; its result (or the exception it raised,
        raised again) on every rank. For what only rank 0 may do, such as reading or creating
        the run directory, when every rank needs the outcome."""
        outcome = None
        if self.is_root:
            try:
                outcome = (True, function())
            except Exception as error:  # sent to every rank, raised there
                outcome = (False, error)
        succeeded, value = self.broadcast(outcome)
        if not succeeded:
            raise value
        return value

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0, the rank that writes files and prints."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcess(Communicator):
    """The group of one process: every collective operation returns its input."""

    def allreduce(self, array: np.ndarray) -> np.ndarray:
        return array

    def allgather(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array)[np.newaxis]

    def broadcast(self, value: Any) -> Any:
        return value

    def gather_objects(self, value: Any) -> list:
        return [value]

    def abort(self, status: int = 1) -> None:
        sys.stderr.flush()
        raise SystemExit(status)


class timed:  # noqa: N801 - used like a function: `with timed(communicator):`
    """Adds the time spent inside the block to ``communicator.seconds``."""

    __slots__ = ("_communicator", "_start")

    def __init__(self, communicator: Communicator):
        self._communicator = communicator

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc_info) -> None:
        self._communicator.seconds += time.perf_counter() - self._start


_world: Communicator = SingleProcess()


def get_world() -> Communicator:
    """The group layers use when given none: the whole job after
    :func:`minicnn.distributed.init`, else the :class:`SingleProcess` group."""
    return _world


def set_world(communicator: Communicator) -> None:
    """Make ``communicator`` the default group (:func:`get_world`)."""
    global _world
    if not isinstance(communicator, Communicator):
        raise TypeError(f"set_world: expected a Communicator, got {type(communicator).__name__}")
    _world = communicator
