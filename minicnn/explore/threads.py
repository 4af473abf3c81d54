"""BLAS on one thread in the explorer's own threads, where minicnn's usual pin does not reach.

minicnn's kernels run BLAS on one thread (:class:`minicnn.threads.blas_threads`, which sets
the library's thread count). OpenBLAS (0.3.31, NumPy's) keeps that count per thread for every
thread but the main one, taken from the global count when the thread first calls it: the
explorer's threads (the live trainer's, the web server's workers) start while the count is
the default, and products there kept running on every core, spinning against Numba's threads
on a busy machine. Measured on this project's shared 2-core machine: a (64, 400) x (400, 120)
product took 0.5-0.6 ms on the main thread and 3-50 ms on another, 0.6 ms once that thread's
own count was 1; a LeNet-5 training step in the trainer's thread, 280 ms instead of 10-40.

:class:`thread_blas` sets the calling thread's own count to one for a block and puts it back
after, through OpenBLAS's ``openblas_set_num_threads_local``; with any other BLAS it does
nothing. The explorer wraps every pass of the network in it.
"""

from __future__ import annotations

import ctypes

__all__ = ["thread_blas"]

_setters = None  # openblas_set_num_threads_local of each loaded OpenBLAS, found once


def _local_setters() -> list:
    global _setters
    if _setters is None:
        import minicnn.kernels  # noqa: F401 - loads SciPy's BLAS, which the kernels call
        from minicnn.threads import _blas_controllers

        _setters = []
        for library in _blas_controllers():
            try:
                setter = ctypes.CDLL(library.filepath).openblas_set_num_threads_local
            except (OSError, AttributeError):  # not OpenBLAS, or too old to have it
                continue
            setter.restype, setter.argtypes = ctypes.c_int, [ctypes.c_int]
            _setters.append(setter)
    return _setters


class thread_blas:  # noqa: N801 - used like a function: `with thread_blas():`
    """Context manager: BLAS on one thread in the calling thread, as before after the block."""

    __slots__ = ("_previous",)

    def __enter__(self) -> thread_blas:
        self._previous = [(setter, setter(1)) for setter in _local_setters()]
        return self

    def __exit__(self, *exc_info) -> None:
        for setter, count in self._previous:
            setter(count)
