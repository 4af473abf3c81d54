"""Launching real MPI jobs from the tests: ``mpiexec -n N python ...`` as a subprocess.

The launcher is :func:`minicnn.distributed.mpiexec_command`'s: the ``mpiexec`` of the
interpreter running the tests (the ``mpi`` extra puts Open MPI's next to it). Open MPI needs
flags here: CI runs as root, which Open MPI refuses without ``--allow-run-as-root`` (added for
root), and the jobs of 3 ranks have more ranks than this machine has cores, which it refuses
without ``--oversubscribe``; ``--bind-to none`` lets the busy machine's scheduler place the
ranks. MPICH needs none.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from minicnn.distributed.launch import mpiexec_command
from tests.conftest import REPO_ROOT

PROGRAMS = Path(__file__).resolve().parent / "programs"
TIMEOUT = 600  # seconds: a hang detector, not a speed limit (a job takes 5-60 s here)


@dataclass
class Job:
    """A finished ``mpiexec`` job."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def environment(**extra: str) -> dict:
    """The tests' environment, with the repository importable (for ``tests.*`` programs)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def launcher(ranks: int) -> list[str]:
    """``mpiexec ... -n ranks`` with the flags these tests need (see the module docstring)."""
    try:
        return mpiexec_command(ranks, oversubscribe=True, bind=False)
    except FileNotFoundError as error:
        pytest.fail(str(error))


@pytest.fixture
def mpi_job():
    """``mpi_job(ranks, argv, **env) -> Job``: run ``mpiexec -n ranks argv`` to the end."""

    def run(ranks: int, argv: list[str], **env: str) -> Job:
        start = time.perf_counter()
        done = subprocess.run([*launcher(ranks), *argv], capture_output=True,
                              text=True, timeout=TIMEOUT, env=environment(**env),
                              stdin=subprocess.DEVNULL)
        return Job(done.returncode, done.stdout, done.stderr, time.perf_counter() - start)

    return run

