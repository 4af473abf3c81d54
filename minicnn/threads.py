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
  runs them on ``n`` Python threads at once (:func:`minicnn.kernels.split.run_split`), each
  thread making one GIL-free Numba call that takes the next chunk left through im2col, its
  product (single-threaded BLAS, called from Numba) and its epilogue. No OpenMP region runs
  inside a convolution, so neither pool spins against the other; between calls the helper
  threads spin for up to 0.8 ms while the machine has a core to spare, then sleep on a lock
  (see :mod:`minicnn.kernels.split`).
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
import threading

__all__ = [
    "blas_threads",
    "forget_blas_libraries",
    "get_num_threads",
    "prepare_numba_threads",
    "set_num_threads",
]

_blas_limiter = None
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
    """Look the loaded BLAS libraries up again.

    For a module that loads another BLAS (SciPy's, which Numba's ``np.dot`` calls), so that
    :class:`blas_threads` pins it too, including a block already open: the kernels are
    imported inside the first forward's block, and their first products must not run on
    SciPy's BLAS at its default thread count.
    """
    global _blas_libraries, _kernel_restore
    _blas_libraries = None
    with _kernel_lock:
        if _kernel_blocks > 0:
            _kernel_restore = (_kernel_restore or []) + (
                _set_blas_threads(KERNEL_BLAS_THREADS, skip=_kernel_restore) or [])


class blas_threads:  # noqa: N801 - used like a function: `with blas_threads():`
    """Context manager: BLAS runs on ``threads`` threads inside the block, as before after it.

    ``threads=None`` means :data:`KERNEL_BLAS_THREADS`.

    Talks to the BLAS library directly (through threadpoolctl's controllers, looked up once):
    a few microseconds per block, where ``threadpoolctl.threadpool_limits`` costs hundreds.
    Blocks of the kernels' count nest for free: only the outermost one (on any thread) sets
    and restores the count, so a model's forward can pin BLAS once around all its layers
    (:class:`minicnn.nn.container.Sequential` does) and each layer's own block costs a
    counter increment instead of four calls into the BLAS library.
    """

    __slots__ = ("_previous", "_threads")

    def __init__(self, threads: int | None = None):
        self._threads = KERNEL_BLAS_THREADS if threads is None else threads
        self._previous = None

    def __enter__(self) -> blas_threads:
        global _kernel_blocks, _kernel_restore
        if self._threads != KERNEL_BLAS_THREADS:
            self._previous = _set_blas_threads(self._threads)
            return self
        with _kernel_lock:
            if _kernel_blocks == 0:
                _kernel_restore = _set_blas_threads(KERNEL_BLAS_THREADS)
            _kernel_blocks += 1
        return self

    def __exit__(self, *exc_info) -> None:
        global _kernel_blocks, _kernel_restore
        if self._threads != KERNEL_BLAS_THREADS:
            _restore_blas_threads(self._previous)
            self._previous = None
            return
        with _kernel_lock:
            _kernel_blocks -= 1
            if _kernel_blocks == 0:
                _restore_blas_threads(_kernel_restore)
                _kernel_restore = None


_kernel_lock = threading.Lock()
_kernel_blocks = 0  # blas_threads() blocks open now, on every thread
_kernel_restore = None  # (library, count) pairs the outermost block restores, or None


def _set_blas_threads(threads: int, skip=None) -> list[tuple] | None:
    """Set every BLAS library (but those already in ``skip``) to ``threads``; the
    ``(library, previous count)`` of those it changed, or ``None`` if none."""
    skipped = {library.filepath for library, _ in skip or ()}
    changed = []
    for library in _blas_controllers():
        count = library.get_num_threads()
        if count != threads and library.filepath not in skipped:
            library.set_num_threads(threads)
            changed.append((library, count))
    return changed or None


def _restore_blas_threads(previous: list[tuple] | None) -> None:
    for library, count in previous or ():
        library.set_num_threads(count)


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: a lock another thread held at the
    fork would stay held."""
    global _kernel_lock
    _kernel_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
