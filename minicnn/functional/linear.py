"""The affine map ``y = x W^T + b`` and its gradients, on NumPy arrays.

Shapes: ``x`` is ``(*, in_features)`` (any number of leading dimensions, including none),
``weight`` is ``(out_features, in_features)``, ``bias`` is ``(out_features,)`` and
``y`` is ``(*, out_features)``. The leading dimensions are flattened into one batch axis for
the backward's matrix products, because every leading position is an independent sample that
shares the same ``W`` and ``b``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["linear", "linear_backward"]


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``x @ weight.T + bias``: ``(*, in_features) -> (*, out_features)``."""
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out


def linear_backward(
    grad_output: np.ndarray, x: np.ndarray, weight: np.ndarray, has_bias: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of :func:`linear` with respect to ``x``, ``weight`` and ``bias``.

    With ``G = grad_output`` and the leading dimensions flattened to ``(M, ·)``:

    - ``grad_input  = G @ W``            ``(*, out) -> (*, in)``
    - ``grad_weight = G^T @ x``          ``(out, in)``: a sum over all ``M`` samples
    - ``grad_bias   = sum of G over M``  ``(out,)``, or ``None`` when ``has_bias`` is False
    """
    out_features, in_features = weight.shape
    # An explicit row count, not -1: reshape cannot infer it when a feature count is 0.
    rows = math.prod(x.shape[:-1])
    grad_rows = grad_output.reshape(rows, out_features)
    input_rows = x.reshape(rows, in_features)
    grad_input = grad_output @ weight
    grad_weight = grad_rows.T @ input_rows
    grad_bias = grad_rows.sum(axis=0) if has_bias else None
    return grad_input, grad_weight, grad_bias
