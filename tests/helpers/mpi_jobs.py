"""Real MPI jobs from the tests: ``mpiexec -n N python ...`` as a subprocess.

The launcher is :func:`minicnn.distributed.mpiexec_command`'s: the ``mpiexec`` of the
interpreter running the tests (the ``mpi`` extra puts Open MPI's next to it). Open MPI needs
flags here: CI runs as root, which Open MPI refuses without ``--allow-run-as-root`` (added for
root), and the jobs of 3 ranks have more ranks than this machine has cores, which it refuses
without ``--oversubscribe``; ``--bind-to none`` lets the busy machine's scheduler place the
ranks. MPICH needs none.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

import pytest

from minicnn.distributed.launch import mpiexec_command
from tests.helpers.processes import REPO_ROOT, subprocess_env

__all__ = ["PROGRAMS", "TIMEOUT", "Job", "launcher", "run_mpi_job"]

PROGRAMS = REPO_ROOT / "tests" / "distributed" / "programs"
"""The small programs the distributed tests run under ``mpiexec``."""
TIMEOUT = 600  # seconds: a hang detector, not a speed limit (a job takes 5-60 s here)


@dataclass
class Job:
    """A finished ``mpiexec`` job."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def launcher(ranks: int) -> list[str]:
    """``mpiexec ... -n ranks`` with the flags these tests need (see the module docstring)."""
    try:
        return mpiexec_command(ranks, oversubscribe=True, bind=False)
    except FileNotFoundError as error:
        pytest.fail(str(error))


def run_mpi_job(ranks: int, argv: list[str], **env: str) -> Job:
    """Run ``mpiexec -n ranks argv`` to its end, with this checkout importable and ``env``
    added to the environment."""
    start = time.perf_counter()
    done = subprocess.run([*launcher(ranks), *argv], capture_output=True, text=True,
                          timeout=TIMEOUT, env=subprocess_env(**env), stdin=subprocess.DEVNULL)
    return Job(done.returncode, done.stdout, done.stderr, time.perf_counter() - start)
