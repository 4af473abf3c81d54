"""Fast ReLU: one parallel pass instead of NumPy's temporary-producing expressions.

The twin of :func:`minicnn.functional.activation.relu` and ``relu_backward`` (same names,
arguments and results). The other activations are transcendental or reductions, where NumPy
is already near the memory speed, so they have no kernel.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minicnn.kernels._jit import kernel

__all__ = ["relu", "relu_backward"]


@kernel(parallel=True)
def relu_flat(x, out):
    """``out = max(x, 0)`` over 1-D arrays (``out`` may be ``x``); NaN stays NaN, as
    ``np.maximum``."""
    for i in prange(x.size):
        value = x[i]
        out[i] = value if value > 0.0 or np.isnan(value) else 0.0


@kernel(parallel=True)
def relu_backward_flat(grad_output, positive, grad_input):
    """``grad_input = grad_output`` where ``positive > 0``, else 0 (1-D arrays)."""
    for i in prange(grad_output.size):
        grad_input[i] = grad_output[i] if positive[i] > 0 else 0.0


def relu(x: np.ndarray, inplace: bool = False) -> np.ndarray:
    """:func:`minicnn.functional.activation.relu`, fast."""
    if inplace and not x.flags.c_contiguous:
        return np.maximum(x, 0, out=x)  # a strided in-place write: leave it to NumPy
    source = np.ascontiguousarray(x)
    out = x if inplace else np.empty(x.shape, x.dtype)
    relu_flat(source.reshape(-1), out.reshape(-1))
    return out


def relu_backward(grad_output: np.ndarray, output: np.ndarray) -> np.ndarray:
    """:func:`minicnn.functional.activation.relu_backward`, fast.

    ``output`` is the forward's output, its input or the boolean mask ``x > 0``.
    """
    # (ascontiguousarray turns a 0-D array into 1-D: shapes are taken from the originals.)
    positive = np.ascontiguousarray(output).reshape(-1)
    if positive.dtype == np.bool_:
        positive = positive.view(np.uint8)  # one compiled signature for masks: uint8
    grad_input = np.empty(grad_output.shape, grad_output.dtype)
    relu_backward_flat(np.ascontiguousarray(grad_output).reshape(-1), positive,
                       grad_input.reshape(-1))
    return grad_input
