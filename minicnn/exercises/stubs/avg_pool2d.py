"""Exercise 7: average pooling, as ``torch.nn.AvgPool2d(kernel_size, stride)`` (no padding).

Check your answer with ``minicnn exercises check DIR avg_pool2d``.
"""

import numpy as np


def avg_pool2d_forward(x, kernel_size, stride):
    """The mean of every ``kernel_size x kernel_size`` window.

    Args:
        x: ``(N, C, H, W)``.
        kernel_size: ``k``, an int.
        stride: ``s``, an int.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, C, H_out, W_out)`` in ``x``'s dtype.

    Shape:
        ``H_out = (H - k) // s + 1``, ``W_out = (W - k) // s + 1``
    """
    raise NotImplementedError


def avg_pool2d_backward(grad_output, cache):
    """The gradient of average pooling with respect to its input.

    Args:
        grad_output: ``(N, C, H_out, W_out)``.
        cache: what :func:`avg_pool2d_forward` returned.

    Returns:
        ``grad_input`` of ``x``'s shape and dtype.

    Hint:
        Every element of a window contributed ``1/k^2`` of the window's mean, so it receives
        ``1/k^2`` of that window's gradient. Elements in several windows (stride < k) add the
        shares of all of them.
    """
    raise NotImplementedError
