"""``minicnn ARGS`` (the command line, run by every rank) with a fault injected on one rank.

    FAULT=raise|stall FAULT_RANK=1 FAULT_STEP=13 FAULT_MARKER=path python faulty_rank.py train ...

At its ``FAULT_STEP``-th gradient reduction (counted from 1 over the whole run) rank
``FAULT_RANK`` either raises ``RuntimeError("injected fault")`` (``raise``), or writes its
process id into ``FAULT_MARKER`` and sleeps (``stall``), so that the test can kill it there with
SIGKILL while the other ranks wait for it in the Allreduce.
"""

import os
import sys
import time

from minicnn.distributed import data_parallel
from minicnn.distributed.mpi import import_mpi

fault = os.environ["FAULT"]
fault_rank = int(os.environ["FAULT_RANK"])
fault_step = int(os.environ["FAULT_STEP"])
reductions = [0]
original = data_parallel.DataParallel.reduce_gradients


def reduce_gradients(self, *args, **kwargs):
    reductions[0] += 1
    if import_mpi().COMM_WORLD.Get_rank() == fault_rank and reductions[0] == fault_step:
        if fault == "raise":
            raise RuntimeError("injected fault")
        with open(os.environ["FAULT_MARKER"], "w") as marker:
            marker.write(str(os.getpid()))
        time.sleep(600)
    return original(self, *args, **kwargs)


data_parallel.DataParallel.reduce_gradients = reduce_gradients

from minicnn.cli import main  # noqa: E402 - after the patch, as a user's program would run

sys.exit(main(sys.argv[1:]))
