"""The ``mpiexec`` command line for this machine's MPI, for programs that start MPI jobs
(the tests, the benchmarks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["mpiexec_command"]


def mpiexec_command(ranks: int, oversubscribe: bool = False, bind: bool = True) -> list[str]:
    """``[mpiexec, flags..., "-n", ranks]``: the launcher and the flags its implementation
    needs here.

    The launcher is the ``mpiexec`` beside this Python (where the ``mpi`` extra installs
    Open MPI's), else the one on ``PATH``. Open MPI refuses to run as root without
    ``--allow-run-as-root`` (added when this process is root), more ranks than cores without
    ``--oversubscribe`` (added when ``oversubscribe``), and binds each rank to a core unless
    ``--bind-to none`` (added when not ``bind``). MPICH needs none of them.

    Raises:
        FileNotFoundError: no ``mpiexec`` is installed.
    """
    beside = Path(sys.executable).parent / "mpiexec"
    launcher = str(beside) if beside.exists() else shutil.which("mpiexec")
    if launcher is None:
        raise FileNotFoundError("mpiexec not found: install an MPI library, e.g. the mpi "
                                "extra: pip install 'minicnn-numpy[mpi]'")
    version = subprocess.run([launcher, "--version"], capture_output=True, text=True).stdout
    flags = []
    if "Open MPI" in version:
        if oversubscribe:
            flags.append("--oversubscribe")
        if not bind:
            flags += ["--bind-to", "none"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--allow-run-as-root")
    return [launcher, *flags, "-n", str(ranks)]
