"""One thread count for every pool minicnn uses: BLAS (NumPy's matmul) and Numba.

Two pools that each spin up one thread per core fight over the cores; set them together.
"""

from __future__ import annotations

__all__ = ["set_num_threads"]

_blas_limiter = None


def set_num_threads(threads: int) -> None:
    """Use ``threads`` threads in BLAS and in Numba's kernels, as ``torch.set_num_threads``."""
    global _blas_limiter
    if threads < 1:
        raise ValueError(f"set_num_threads: expected a positive thread count, got {threads}")
    from threadpoolctl import threadpool_limits

    # Kept referenced: the limit holds until changed, not only inside a with-block.
    _blas_limiter = threadpool_limits(limits=threads, user_api="blas")
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
