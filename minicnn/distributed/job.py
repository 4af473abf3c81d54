"""Joining an MPI job, and how many threads each of its ranks should run."""

from __future__ import annotations

import os

from minicnn.distributed.communicator import Communicator, set_world

__all__ = ["init", "threads_per_rank"]


def init() -> Communicator:
    """Join the MPI job this process was started in (``mpiexec -n N ...``) and make it the
    default group (:func:`~minicnn.distributed.communicator.get_world`); returns it.

    Imports ``mpi4py`` (which starts MPI): the ``mpi`` extra. A process started without
    ``mpiexec`` is a job of one rank.
    """
    from minicnn.distributed.mpi import MPICommunicator

    communicator = MPICommunicator()
    set_world(communicator)
    return communicator


def threads_per_rank(ranks_on_this_machine: int) -> int:
    """Kernel threads for each rank when ``ranks_on_this_machine`` ranks share its cores.

    The machine's cores divided among its ranks (at least 1), and never more than the cores
    this process may run on: an MPI launcher that binds each rank to a core (Open MPI does
    for two ranks or fewer) leaves it one.
    """
    cores = os.cpu_count() or 1
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return max(1, min(allowed, cores // max(1, ranks_on_this_machine)))
