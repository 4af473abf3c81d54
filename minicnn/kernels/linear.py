"""Linear's products with BLAS pinned to one thread (see :mod:`minicnn.threads` for why).

The twin of :mod:`minicnn.functional.linear`: a matrix product *is* the fast path, so these
call the reference inside :class:`minicnn.threads.blas_threads`, which keeps BLAS's threads
from fighting the kernels' threads for the cores.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional.linear import linear as reference_linear
from minicnn.functional.linear import linear_backward as reference_linear_backward
from minicnn.threads import blas_threads

__all__ = ["linear", "linear_backward"]


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """:func:`minicnn.functional.linear.linear` with single-threaded BLAS."""
    with blas_threads():
        return reference_linear(x, weight, bias)


def linear_backward(grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    has_bias: bool):
    """:func:`minicnn.functional.linear.linear_backward` with single-threaded BLAS."""
    with blas_threads():
        return reference_linear_backward(grad_output, x, weight, has_bias)
