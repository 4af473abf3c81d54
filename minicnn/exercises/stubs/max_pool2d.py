"""Exercise 6: max pooling, as ``torch.nn.MaxPool2d(kernel_size, stride)`` (no padding).

Check your answer with ``minicnn exercises check DIR max_pool2d``.
"""

import numpy as np


def max_pool2d_forward(x, kernel_size, stride):
    """The maximum of every ``kernel_size x kernel_size`` window.

    Args:
        x: ``(N, C, H, W)``.
        kernel_size: ``k``, an int.
        stride: ``s``, an int (``s < k`` makes windows overlap).

    Returns:
        ``(out, cache)``: ``out[n, c, oy, ox] = max over ky, kx of
        x[n, c, oy*s + ky, ox*s + kx]``, shape ``(N, C, H_out, W_out)``, ``x``'s dtype.

    Shape:
        ``H_out = (H - k) // s + 1``, ``W_out = (W - k) // s + 1``
    """
    raise NotImplementedError


def max_pool2d_backward(grad_output, cache):
    """The gradient of max pooling with respect to its input.

    Args:
        grad_output: ``(N, C, H_out, W_out)``.
        cache: what :func:`max_pool2d_forward` returned.

    Returns:
        ``grad_input`` of ``x``'s shape and dtype.

    Hint:
        Each window's gradient goes to the one element that was its maximum. When several
        elements tie for the maximum (after a ReLU, MNIST feature maps are full of all-zero
        windows), PyTorch gives it all to the *first* in the window's row-major order (top row
        first, left to right): record in the forward which one that was. Where windows overlap,
        one element can be the maximum of several windows: it gets the sum of their gradients.
    """
    raise NotImplementedError
