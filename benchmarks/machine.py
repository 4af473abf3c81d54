"""What the figures were measured on: CPU, cores, BLAS, thread pools and library versions.

:func:`describe_machine` runs in the parent process and imports neither minicnn's kernels
nor torch (library versions come from the installed metadata). :func:`describe_process`
runs inside each worker after its framework is imported and its threads are set, so the
BLAS it reports (through threadpoolctl) is the one that worker's figures used.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

__all__ = [
    "ENV_VARIABLES",
    "BackgroundLoad",
    "QuietWaiter",
    "cpu_model",
    "describe_machine",
    "describe_process",
]

# The variables that change how the thread pools and BLAS behave.
ENV_VARIABLES = (
    "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER",
    "NUMBA_CACHE_DIR", "MINICNN_KERNELS",
)
_PACKAGES = ("numpy", "numba", "llvmlite", "torch", "threadpoolctl", "minicnn-numpy")


def cpu_model() -> str:
    """The processor's model name from ``/proc/cpuinfo`` (Linux), else ``platform``'s guess."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return []
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return sorted(flags & {"avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"})
    return []


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe_machine() -> dict:
    """The machine and installed libraries, without importing any of them."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_flags": _cpu_flags(),
        "logical_cores": os.cpu_count(),
        "usable_cores": affinity,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {package: _version(package) for package in _PACKAGES},
        "environment": {name: os.environ.get(name) for name in ENV_VARIABLES},
    }


def _thread_pools() -> list[dict]:
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "architecture", "num_threads",
            "threading_layer")
    pools = []
    for pool in threadpool_info():
        summary = {key: pool[key] for key in keep if pool.get(key) is not None}
        summary["library"] = Path(pool["filepath"]).name
        pools.append(summary)
    return pools


def describe_process(framework: str) -> dict:
    """The thread pools and settings of this (worker) process, for ``framework``'s figures."""
    info = {
        "framework": framework,
        "thread_pools": _thread_pools(),
        "environment": {name: os.environ.get(name) for name in ENV_VARIABLES},
    }
    if framework == "torch":
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "other"
        info["torch_mkldnn"] = bool(torch.backends.mkldnn.is_available())
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    else:
        import numba

        info["numba_threads"] = numba.get_num_threads()
        try:
            info["numba_threading_layer"] = numba.threading_layer()
        except ValueError:  # no parallel kernel has run in this process
            info["numba_threading_layer"] = None
        from benchmarks.variants import kernel_switch

        info["kernels_available"] = kernel_switch() is not None
    return info


def _machine_busy_ticks() -> int | None:
    """Clock ticks all CPUs spent busy since boot (``/proc/stat``), or ``None`` off Linux."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return None
    fields = [int(x) for x in stat.read_text().splitlines()[0].split()[1:]]
    idle, iowait = fields[3], fields[4]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return sum(fields[:8]) - idle - iowait


def _process_ticks(pid: int) -> int | None:
    """Clock ticks process ``pid`` (all its threads) spent on a CPU, or ``None``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    after_name = text.rsplit(")", 1)[1].split()
    return int(after_name[11]) + int(after_name[12])


class BackgroundLoad:
    """How many cores *other* processes kept busy while a block ran (Linux; else ``None``).

    ``with BackgroundLoad(pids) as load: ...`` then ``load.cores``: the machine's busy CPU
    time minus that of ``pids`` (the benchmark's own processes), over the wall time. On a
    shared machine this says which figures were taken while something else ran: a 2-thread
    figure measured beside a busy core is mostly waiting for the scheduler.
    """

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.cores: float | None = None

    def _ticks(self):
        machine = _machine_busy_ticks()
        own = [_process_ticks(pid) for pid in self.pids]
        if machine is None or any(t is None for t in own):
            return None
        return machine - sum(own)

    def __enter__(self) -> BackgroundLoad:
        self._start_ticks = self._ticks()
        self._start_time = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        end_ticks = self._ticks()
        wall = time.perf_counter() - self._start_time
        if self._start_ticks is None or end_ticks is None or wall <= 0:
            return
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        self.cores = max(0.0, (end_ticks - self._start_ticks) / ticks_per_second / wall)


class QuietWaiter:
    """Waits, before each measurement, for a moment when other processes leave the CPUs alone.

    A shared machine's load comes and goes (another job's tests, a training run). Sampling
    the background load over short windows and starting only when it is below
    ``threshold_cores`` keeps such bursts out of the figures; ``budget_seconds`` bounds the
    total waiting over the whole run, so a machine that never quiets down still finishes
    (and its figures are then marked by :class:`BackgroundLoad`).
    """

    def __init__(self, budget_seconds: float, threshold_cores: float = 0.25,
                 window_seconds: float = 0.5):
        self.budget_seconds = budget_seconds
        self.threshold_cores = threshold_cores
        self.window_seconds = window_seconds
        self.waited_seconds = 0.0

    def wait(self, own_pids: list[int]) -> None:
        """Return once a window is quiet, or when the budget is spent."""
        while self.waited_seconds < self.budget_seconds:
            with BackgroundLoad(own_pids) as load:
                time.sleep(self.window_seconds)
            self.waited_seconds += self.window_seconds
            if load.cores is None or load.cores < self.threshold_cores:
                return
