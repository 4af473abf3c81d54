"""Exercise 1: ReLU, forward and backward.

Every exercise has the same form: a forward that returns ``(out, cache)``, where ``cache`` is
whatever you decide the backward will need, and a backward that turns ``grad_output``, the
gradient of the loss with respect to ``out``, into the gradient with respect to the input.

Check your answer with ``minicnn exercises check DIR relu``.
"""

import numpy as np


def relu_forward(x):
    """ReLU, element-wise: ``out = max(x, 0)``.

    Args:
        x: an array of any shape, float32 or float64.

    Returns:
        ``(out, cache)``: ``out`` has ``x``'s shape and dtype; ``cache`` is anything you choose
        to keep for :func:`relu_backward`.

    Shape:
        ``(*)`` -> ``(*)``

    Hint:
        ``np.maximum(x, 0)`` keeps the dtype: a Python ``0`` does not turn float32 into float64.
    """
    raise NotImplementedError


def relu_backward(grad_output, cache):
    """The gradient of the loss with respect to ReLU's input.

    Args:
        grad_output: ``dL/d out``, ``out``'s shape.
        cache: what :func:`relu_forward` returned.

    Returns:
        ``grad_input = dL/dx``, ``x``'s shape and dtype.

    Hint:
        ``d out / dx`` is 1 where ``x > 0`` and 0 elsewhere (at exactly 0 take 0, as PyTorch
        does), so ``dL/dx = dL/d out * d out/dx``, element by element. Never write into
        ``grad_output``: the caller may still need it.
    """
    raise NotImplementedError
