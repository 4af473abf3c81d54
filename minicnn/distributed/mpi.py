"""The MPI implementation of :class:`~minicnn.distributed.communicator.Communicator`.

Imported only by ``minicnn train --distributed`` and :func:`minicnn.distributed.init`:
importing it imports ``mpi4py.MPI``, which starts MPI in this process (the ``mpi`` extra
installs ``mpi4py`` and Open MPI's wheel: ``pip install 'minicnn-numpy[mpi]'``).

Arrays travel through mpi4py's buffer interface (``Allreduce``, ``Allgather``: no pickling,
no copy); Python objects (a checkpoint, evaluation results) through its pickled lower-case
methods. Every operation is timed into :attr:`Communicator.seconds`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from minicnn.distributed.communicator import Communicator, timed

__all__ = ["MPICommunicator", "import_mpi"]


def import_mpi():
    """``mpi4py.MPI``, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            f"distributed training needs mpi4py and an MPI library ({error}); install them "
            "with: pip install 'minicnn-numpy[mpi]'") from None
    return MPI


class MPICommunicator(Communicator):
    """A Communicator over an MPI communicator (default: ``MPI.COMM_WORLD``)."""

    def __init__(self, comm=None):
        super().__init__()
        MPI = import_mpi()
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def allreduce(self, array: np.ndarray) -> np.ndarray:
        if not array.flags.c_contiguous:
            raise ValueError("MPICommunicator.allreduce: the array must be C-contiguous")
        with timed(self):
            self.comm.Allreduce(self._MPI.IN_PLACE, array, op=self._MPI.SUM)
        return array

    def allgather(self, array: np.ndarray) -> np.ndarray:
        array = np.ascontiguousarray(array)
        gathered = np.empty((self.size, *array.shape), dtype=array.dtype)
        with timed(self):
            self.comm.Allgather(array, gathered)
        return gathered

    def broadcast(self, value: Any) -> Any:
        with timed(self):
            return self.comm.bcast(value, root=0)

    def gather_objects(self, value: Any) -> list:
        with timed(self):
            return self.comm.allgather(value)

    def abort(self, status: int = 1) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(status)

    def local_size(self) -> int:
        """How many ranks of this job run on this machine (they share its cores)."""
        local = self.comm.Split_type(self._MPI.COMM_TYPE_SHARED)
        try:
            return local.Get_size()
        finally:
            local.Free()
