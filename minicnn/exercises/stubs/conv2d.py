"""Exercise 5: a 2-D convolution (PyTorch's cross-correlation), forward and backward.

Build it from your own :func:`im2col` and :func:`col2im` (exercise 4). Check your answer with
``minicnn exercises check DIR conv2d``.
"""

import numpy as np

from .im2col import col2im, im2col


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """``torch.nn.functional.conv2d(x, weight, bias, stride, padding)`` with zero padding.

    ``out[n, o, oy, ox] = bias[o] + sum_{c, ky, kx} weight[o, c, ky, kx] *
    x_padded[n, c, oy*stride + ky, ox*stride + kx]``

    Args:
        x: ``(N, C_in, H, W)``.
        weight: ``(C_out, C_in, k, k)``.
        bias: ``(C_out,)``.
        stride: an int.
        padding: an int: zeros added on every side of H and W.

    Returns:
        ``(out, cache)``: ``out`` of shape ``(N, C_out, H_out, W_out)`` in ``x``'s dtype.

    Shape:
        ``H_out = (H + 2*padding - k) // stride + 1``, likewise ``W_out``

    Hint:
        Pad with ``np.pad``, then ``cols = im2col(...)`` reshaped to ``(N, C_in*k*k,
        H_out*W_out)`` and ``weight`` to ``(C_out, C_in*k*k)``: the convolution is one matrix
        product per sample (``np.matmul`` broadcasts over N).
    """
    raise NotImplementedError


def conv2d_backward(grad_output, cache):
    """Gradients of :func:`conv2d_forward` with respect to ``x``, ``weight`` and ``bias``.

    Args:
        grad_output: ``(N, C_out, H_out, W_out)``.
        cache: what :func:`conv2d_forward` returned.

    Returns:
        ``(grad_input, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and ``bias``.

    Hint:
        The forward was ``out = W @ cols + b`` for each sample. So ``grad_weight`` sums
        ``grad_output @ cols^T`` over the samples, ``grad_cols = W^T @ grad_output``, and
        col2im turns ``grad_cols`` into the gradient of the padded input (crop the padding
        off). The bias is added at every output position of every sample: its gradient sums
        ``grad_output`` over N, H_out and W_out.
    """
    raise NotImplementedError
