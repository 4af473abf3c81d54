"""Exercise 9: a residual block's backward: where a path forks, gradients add.

The block computes ``out = relu(main(x) + x)``: ``x`` goes through a main path (here a minicnn
module, e.g. two 3x3 convolutions with a ReLU between them) and, unchanged, through the
shortcut; the two are added and passed through a ReLU.

Check your answer with ``minicnn exercises check DIR residual``.
"""

import numpy as np


def residual_forward(x, main):
    """``out = relu(main(x) + x)``.

    Args:
        x: ``(N, C, H, W)``.
        main: a minicnn module whose output has ``x``'s shape: call ``main(x)`` for its
            output. It caches what its own backward needs.

    Returns:
        ``(out, cache)``: ``out`` of ``x``'s shape and dtype.

    Shape:
        ``(N, C, H, W)`` -> ``(N, C, H, W)``
    """
    raise NotImplementedError


def residual_backward(grad_output, cache, main):
    """The gradient of the block with respect to ``x``.

    Args:
        grad_output: ``dL/d out``, ``(N, C, H, W)``.
        cache: what :func:`residual_forward` returned.
        main: the same module: ``main.backward(g)`` takes the gradient of its output and
            returns the gradient of its input (and adds its parameters' gradients into their
            ``.grad``: call it exactly once).

    Returns:
        ``grad_input = dL/dx``, ``x``'s shape and dtype.

    Hint:
        First through the ReLU; then the sum ``main(x) + x`` hands the same gradient to both
        of its terms. ``x`` reached the sum along two paths, so its gradient is the sum of
        what comes back along each.
    """
    raise NotImplementedError
