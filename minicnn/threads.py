"""Thread counts for the two pools minicnn uses: BLAS (NumPy's matmul) and Numba's kernels.

The policy, measured on a 2-core machine (see ``benchmarks/RESULTS.md``):

* Numba's ``prange`` loops (im2col, col2im, pooling, ...) run on ``n`` threads, set by
  :func:`set_num_threads` (default: one per core).
* While a kernel calls BLAS, BLAS runs on **one** thread (:class:`blas_threads`). The products
  in a small CNN are tall and skinny (6 or 16 output columns) and memory-bound, so a second
  BLAS thread buys little, and it costs a great deal: OpenBLAS's idle threads busy-wait for a
  while after each product, Numba's OpenMP threads do the same after each parallel loop, and
  with two pools spinning on two cores a LeNet-5 training step took 50 ms instead of 4.
  Pinning only *inside* the kernels leaves the rest of the process (and the NumPy reference,
  :func:`minicnn.use_kernels(False) <minicnn.use_kernels>`) with the thread count it chose.
"""

from __future__ import annotations

__all__ = ["blas_threads", "get_num_threads", "set_num_threads"]

_blas_limiter = None
_blas_libraries = None  # threadpoolctl controllers of the loaded BLAS libraries, found once
KERNEL_BLAS_THREADS = 1
"""BLAS threads inside a kernel's matrix products (see the module docstring for why 1)."""


def set_num_threads(threads: int) -> None:
    """Use ``threads`` threads in BLAS and in Numba's kernels, as ``torch.set_num_threads``.

    Inside the kernels' own matrix products BLAS still runs on :data:`KERNEL_BLAS_THREADS`.
    """
    global _blas_limiter
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: expected a positive thread count, got {threads!r}")
    from threadpoolctl import threadpool_limits

    # Kept referenced: the limit holds until changed, not only inside a with-block.
    _blas_limiter = threadpool_limits(limits=threads, user_api="blas")
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    """The number of threads Numba's kernels use."""
    import numba

    return numba.get_num_threads()


def _blas_controllers() -> list:
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController

        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


class blas_threads:  # noqa: N801 - used like a function: `with blas_threads():`
    """Context manager: BLAS runs on ``threads`` threads inside the block, as before after it.

    ``threads=None`` means :data:`KERNEL_BLAS_THREADS`.

    Talks to the BLAS library directly (through threadpoolctl's controllers, looked up once):
    about a microsecond per block, cheap enough to wrap every product of a training step,
    where ``threadpoolctl.threadpool_limits`` costs hundreds.
    """

    __slots__ = ("_previous", "_threads")

    def __init__(self, threads: int | None = None):
        self._threads = KERNEL_BLAS_THREADS if threads is None else threads
        self._previous = None

    def __enter__(self) -> blas_threads:
        libraries = _blas_controllers()
        previous = [library.get_num_threads() for library in libraries]
        if any(count != self._threads for count in previous):
            self._previous = previous
            for library in libraries:
                library.set_num_threads(self._threads)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            for library, count in zip(_blas_controllers(), self._previous):
                library.set_num_threads(count)
            self._previous = None
