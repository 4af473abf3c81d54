"""The two Numba decorators every kernel uses, configured in one place.

* :func:`kernel` compiles a loop nest; ``parallel=True`` lets ``prange`` loops run on Numba's
  threads (see :mod:`minicnn.threads` for how their count is set beside BLAS's).
* :func:`helper` compiles a small index function that Numba inlines into its callers, so the
  helper stays a readable function and costs nothing at run time.

``cache=True`` writes the machine code next to the source (``__pycache__/*.nbi``, ``*.nbc``):
the first process on a machine compiles (a few seconds), later ones load it in milliseconds.
No ``fastmath``: it lets LLVM assume there are no NaNs and reorder sums, which would break the
NaN propagation of max-pooling and the bit-for-bit agreement with the reference that the tests
rely on; the loops here are memory-bound, so it would buy little anyway.
"""

from __future__ import annotations

from minicnn.kernels._memory import keep_freed_memory
from minicnn.threads import prepare_numba_threads

prepare_numba_threads()  # before Numba starts its OpenMP threads
keep_freed_memory()  # the kernels' arrays reuse freed memory (see minicnn.kernels._memory)

import numba  # noqa: E402 - after the thread policy is in the environment

__all__ = ["helper", "kernel"]


def kernel(function=None, *, parallel: bool = False):
    """``numba.njit(cache=True)``, with ``parallel=True`` for kernels that use ``prange``."""
    decorate = numba.njit(cache=True, parallel=parallel, nogil=True)
    return decorate if function is None else decorate(function)


def helper(function):
    """``numba.njit(inline="always")``: a small function compiled into each caller."""
    return numba.njit(inline="always", cache=True)(function)
