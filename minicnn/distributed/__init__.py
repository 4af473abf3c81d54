"""Data-parallel training over MPI: the communication layer, gradient averaging, threads.

``mpiexec -n N minicnn train --distributed`` runs N copies of the training program (ranks).
Each takes a disjoint share of every batch (:class:`minicnn.data.ShardedDataLoader`), computes
its gradients, and :class:`DataParallel` sums them across ranks in one ``Allreduce`` so that
every rank takes the same step as one process with the whole batch would.
:class:`minicnn.nn.SyncBatchNorm` normalises with the whole batch's statistics.

Nothing in this package imports ``mpi4py`` until :func:`init` is called (``import minicnn``
and plain ``minicnn train`` never load MPI); :class:`SingleProcess` is the group of one.
docs/distributed.md explains the maths and the measurements.
"""

from minicnn.distributed.communicator import Communicator, SingleProcess, get_world, set_world
from minicnn.distributed.data_parallel import DataParallel, StepTotals
from minicnn.distributed.job import init, threads_per_rank
from minicnn.distributed.launch import mpiexec_command

__all__ = [
    "Communicator",
    "DataParallel",
    "SingleProcess",
    "StepTotals",
    "get_world",
    "init",
    "mpiexec_command",
    "set_world",
    "threads_per_rank",
]
