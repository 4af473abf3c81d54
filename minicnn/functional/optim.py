"""Optimiser updates as functions on arrays, as PyTorch's functional ``torch.optim.sgd.sgd``.

The optimiser objects in :mod:`minicnn.optim` keep the state (momentum buffers, step counts)
and the options; the arithmetic of one parameter's step lives here, where
:mod:`minicnn.kernels.optim` can offer a fused twin with the same signature.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sgd_update"]


def sgd_update(param: np.ndarray, grad: np.ndarray, momentum_buffer: np.ndarray | None, *,
               lr: float, momentum: float, dampening: float, weight_decay: float,
               nesterov: bool) -> np.ndarray | None:
    r"""One SGD step of one parameter, in place; returns its momentum buffer.

    ``param`` and ``grad`` have the same shape and dtype; ``param`` is updated in place::

        g <- grad + weight_decay * param                      (if weight_decay != 0)
        b <- g                                                (first step: no buffer yet)
        b <- momentum * b + (1 - dampening) * g               (later steps, in place)
        g <- g + momentum * b   if nesterov   else   b        (if momentum != 0)
        param <- param - lr * g

    Returns the momentum buffer: ``momentum_buffer`` updated in place, a new array on the
    first step (``momentum_buffer is None``), or ``None`` when ``momentum == 0``. Python
    floats keep float32 arithmetic in float32 (NumPy treats them as weak scalars).
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        if momentum_buffer is None:
            # The first buffer is the gradient itself, undamped, as in PyTorch.
            momentum_buffer = np.array(grad, copy=True)
        else:
            momentum_buffer *= momentum
            momentum_buffer += (1 - dampening) * grad
        grad = grad + momentum * momentum_buffer if nesterov else momentum_buffer
    param -= lr * grad
    return momentum_buffer
