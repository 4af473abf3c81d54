"""Launching real MPI jobs from the tests: ``mpiexec -n N python ...`` as a subprocess.

The launcher is the ``mpiexec`` of the interpreter running the tests (the ``mpi`` extra puts
Open MPI's next to it), else the one on ``PATH``. Open MPI needs two flags here: CI runs as
root, which Open MPI refuses without ``--allow-run-as-root``, and the jobs of 3 ranks have more
ranks than this machine has cores, which it refuses without ``--oversubscribe``;
``--bind-to none`` lets the busy machine's scheduler place the ranks. MPICH needs none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def find_mpiexec() -> list[str]:
    """The launcher command, with the flags its implementation needs here."""
    beside = Path(sys.executable).parent / "mpiexec"
    launcher = str(beside) if beside.exists() else shutil.which("mpiexec")
    if launcher is None:
        pytest.fail("mpiexec not found: install the mpi extra (pip install -e '.[mpi]')")
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version:
        flags = ["--oversubscribe", "--bind-to", "none"]
        if os.geteuid() == 0:
            flags.append("--allow-run-as-root")
        return [launcher, *flags]
    return [launcher]


def environment(**extra: str) -> dict:
    """The tests' environment, with the repository importable (for ``tests.*`` programs)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def mpiexec_command() -> list[str]:
    return find_mpiexec()


@pytest.fixture
def mpi_job(mpiexec_command):
    """``mpi_job(ranks, argv, **env) -> Job``: run ``mpiexec -n ranks argv`` to the end."""
    import time

    def run(ranks: int, argv: list[str], **env: str) -> Job:
        start = time.perf_counter()
        done = subprocess.run([*mpiexec_command, "-n", str(ranks), *argv], capture_output=True,
                              text=True, timeout=TIMEOUT, env=environment(**env),
                              stdin=subprocess.DEVNULL)
        return Job(done.returncode, done.stdout, done.stderr, time.perf_counter() - start)

    return run

