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
from importlib import metadata
from pathlib import Path

__all__ = ["ENV_VARIABLES", "cpu_model", "describe_machine", "describe_process"]

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
