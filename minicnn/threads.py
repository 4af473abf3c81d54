"""Thread counts for the two pools minicnn uses: BLAS (NumPy's matmul) and Numba's kernels.

The policy, measured on a 2-core machine (see ``benchmarks/RESULTS.md``):

* Numba's ``prange`` loops (im2col, col2im, pooling, ...) run on ``n`` threads, set by
  :func:`set_num_threads` (default: one per core).
* While a kernel calls BLAS, BLAS's own thread pool is not used: :class:`blas_threads` pins
  it to **one** thread. OpenBLAS's idle threads busy-wait for a while after each product,
  Numba's threads wait for work after each parallel loop, and with both pools on two cores
  a LeNet-5 training step took 50 ms instead of 4 (measured: 230-490 ms on a busy machine).
  Pinning only *inside* the kernels leaves the rest of the process (and the NumPy reference,
  :func:`minicnn.use_kernels(False) <minicnn.use_kernels>`) with the thread count it chose.
* A convolution (:mod:`minicnn.kernels.conv`) cuts its batch into cache-sized chunks and
  runs them on ``n`` Python threads at once (:func:`run_split`), each thread making one
  GIL-free Numba call that takes the next chunk left through im2col, its product
  (single-threaded BLAS, called from Numba) and its epilogue. No OpenMP region runs inside
  a convolution, so neither pool spins against the other; the helper threads sleep on a
  lock between calls (waking one costs tens of microseconds here, paid once per call).
* Numba's OpenMP threads wait *passively* (they sleep between parallel loops instead of
  spinning): :func:`prepare_numba_threads` sets ``OMP_WAIT_POLICY=PASSIVE`` before Numba
  starts its thread pool, unless the environment already chose. Spinning threads win a few
  microseconds per loop on an idle machine, but when the cores are shared (other processes,
  a test runner's workers) a spinning thread burns the time slice the thread with work
  needs: measured on a busy 2-core machine, a LeNet-5 step took 76-80 ms with spinning
  threads and 8-9 ms with passive ones (one thread: 5-9 ms). OpenMP reads the variable once,
  when it starts, so set it yourself before anything starts OpenMP to choose otherwise.
"""

from __future__ import annotations

import os

__all__ = [
    "blas_threads",
    "forget_blas_libraries",
    "get_num_threads",
    "prepare_numba_threads",
    "run_split",
    "set_num_threads",
]

_blas_limiter = None
_split_pool = None  # the helper threads of run_split, created on first use
_blas_libraries = None  # threadpoolctl controllers of the loaded BLAS libraries, found once
KERNEL_BLAS_THREADS = 1
"""BLAS threads inside a kernel's matrix products (see the module docstring for why 1)."""


def prepare_numba_threads() -> None:
    """Choose passive OpenMP waiting for Numba's threads (see the module docstring).

    Called by :mod:`minicnn.kernels` before it imports Numba; a value already in the
    environment wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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
    prepare_numba_threads()
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    """The number of threads Numba's kernels use."""
    prepare_numba_threads()
    import numba

    return numba.get_num_threads()


def _blas_controllers() -> list:
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController

        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


def forget_blas_libraries() -> None:
    """Look the loaded BLAS libraries up again at the next :class:`blas_threads` block.

    For a module that loads another BLAS (SciPy's, which Numba's ``np.dot`` calls), so that
    the block pins it too.
    """
    global _blas_libraries
    _blas_libraries = None


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



def run_split(task, parts: int) -> list:
    """``[task(0), task(1), ..., task(parts - 1)]``, run on ``parts`` threads at once.

    Part 0 runs on the calling thread, the others on helper threads; each ``task(part)``
    must handle its own slice of the work and write nowhere another part writes.
    """
    global _split_pool
    if parts <= 1:
        return [task(0)]
    if _split_pool is None or _split_pool._max_workers < parts - 1:
        from concurrent.futures import ThreadPoolExecutor

        _split_pool = ThreadPoolExecutor(max_workers=parts - 1,
                                         thread_name_prefix="minicnn-split")
    futures = [_split_pool.submit(task, part) for part in range(1, parts)]
    first = task(0)
    return [first, *(future.result() for future in futures)]
