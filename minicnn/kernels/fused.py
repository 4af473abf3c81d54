"""Fused blocks: Conv2d -> ReLU -> MaxPool2d(2) and Linear -> ReLU, forward and backward.

Run separately, a conv block makes four passes over its largest array after the product:
bias + NHWC->NCHW, ReLU, its mask, and the pooling; the backward as many again. Fused, the
forward makes one pass over the product that adds the bias, applies ReLU, takes each
2x2 window's maximum and records which of its four entries won; the backward routes each
pooled gradient straight to the winning entry of the product's gradient. The result is the
same, number for number, as the three layers run one after the other (tests hold them
equal): the ReLU is folded into the winner's code, ``-1`` meaning "the winner was not
positive, so no gradient flows".

:class:`minicnn.nn.container.Sequential` recognises these runs of layers and calls these
functions; each layer alone keeps its own (also fast) kernels.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minicnn.functional.linear import linear_backward
from minicnn.kernels._jit import kernel
from minicnn.kernels.conv import conv_backward_columns, conv_forward_columns, conv_geometry
from minicnn.threads import blas_threads

__all__ = [
    "conv2d_relu_maxpool2d",
    "conv2d_relu_maxpool2d_backward",
    "linear_relu",
    "linear_relu_backward",
]


@kernel(parallel=True)
def bias_relu_maxpool2x2(product, bias, out_h, out_w, pooled, winners):
    """One pass over the product: ``pooled = maxpool2x2(relu(product + bias))`` in NCHW.

    ``product (C, N*out_h*out_w)`` as :mod:`minicnn.kernels.conv` computes it;
    ``pooled``/``winners (N, C, out_h//2, out_w//2)``. ``winners`` holds ``dy*2 + dx`` of each
    window's first maximum (torch's tie rule, applied to the ReLU's outputs, as the unfused
    layers see them), or ``-1`` when that entry's pre-activation was not positive: then ReLU
    passes it no gradient. A last odd row or column belongs to no window and is dropped, as
    MaxPool2d(2) does.
    """
    batch, channels, pooled_h, pooled_w = pooled.shape
    positions = out_h * out_w
    for task in prange(batch * channels):
        n = task // channels
        c = task % channels
        for py in range(pooled_h):
            for px in range(pooled_w):
                top_left = n * positions + 2 * py * out_w + 2 * px
                best = 0.0
                best_pre = 0.0
                best_code = 0
                for code in range(4):
                    pre = product[c, top_left + (code // 2) * out_w + code % 2] + bias[c]
                    activated = pre if pre > 0.0 or np.isnan(pre) else 0.0
                    if code == 0 or activated > best or np.isnan(activated):
                        best = activated
                        best_pre = pre
                        best_code = code
                pooled[n, c, py, px] = best
                winners[n, c, py, px] = best_code if best_pre > 0.0 else -1


@kernel(parallel=True)
def maxpool2x2_relu_grad(grad_pooled, winners, out_h, out_w, grad_product, bias_partials):
    """Backward of :func:`bias_relu_maxpool2x2`: the product's gradient.

    ``grad_product (C, N*out_h*out_w)`` is overwritten: zero except at each window's winner,
    which receives the pooled gradient. ``bias_partials (N, C)`` float64 gets the per-sample
    sum of those gradients (the bias gradient, before summing over samples).
    """
    batch, channels, pooled_h, pooled_w = grad_pooled.shape
    positions = out_h * out_w
    for task in prange(batch * channels):
        n = task // channels
        c = task % channels
        for p in range(n * positions, (n + 1) * positions):
            grad_product[c, p] = 0.0
        total = 0.0
        for py in range(pooled_h):
            for px in range(pooled_w):
                code = winners[n, c, py, px]
                if code >= 0:
                    value = grad_pooled[n, c, py, px]
                    position = (2 * py + code // 2) * out_w + 2 * px + code % 2
                    grad_product[c, n * positions + position] = value
                    total += value
        bias_partials[n, c] = total


def conv2d_relu_maxpool2d(x, weight, bias=None, stride=1, padding=0, dilation=1,
                          groups: int = 1):
    """``max_pool2d(relu(conv2d(x, weight, bias, ...)), 2)`` in one pass after the product.

    Returns ``(pooled, winners, cols)``: ``pooled (N, C_out, H_out//2, W_out//2)``, the
    ``winners`` codes (int8, same shape) and the column matrix (or ``None``, as
    :func:`minicnn.kernels.conv.conv2d_forward`), all three needed by the backward.
    """
    geometry = conv_geometry(x, weight, bias, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    batch, out_channels = x.shape[0], weight.shape[0]
    pooled_shape = (batch, out_channels, geometry.out_h // 2, geometry.out_w // 2)
    pooled = np.empty(pooled_shape, dtype=x.dtype)
    winners = np.empty(pooled_shape, dtype=np.int8)
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias

    def bias_relu_pool(product, start, stop):
        bias_relu_maxpool2x2(product, bias_values, geometry.out_h, geometry.out_w,
                                  pooled[start:stop], winners[start:stop])

    cols = conv_forward_columns(x, weight, geometry, groups, bias_relu_pool)
    return pooled, winners, cols


def conv2d_relu_maxpool2d_backward(grad_pooled, winners, x, weight, stride=1, padding=0,
                                   dilation=1, groups: int = 1, cols=None,
                                   input_grad: bool = True):
    """Gradients of :func:`conv2d_relu_maxpool2d`: ``(grad_input or None, grad_weight,
    grad_bias)``; ``cols`` is consumed as in :func:`minicnn.kernels.conv.conv2d_backward`."""
    geometry = conv_geometry(x, weight, None, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    grad_pooled = np.ascontiguousarray(grad_pooled)

    def from_grad_pooled(start, stop, grad_product, bias_partials):
        maxpool2x2_relu_grad(grad_pooled[start:stop], winners[start:stop], geometry.out_h,
                             geometry.out_w, grad_product, bias_partials)

    return conv_backward_columns(x, weight, geometry, groups, cols, from_grad_pooled,
                                 input_grad)


@kernel(parallel=True)
def bias_relu_inplace(values, bias):
    """``values (M, F) = relu(values + bias)`` in place: the Linear -> ReLU epilogue."""
    rows, features = values.shape
    for r in prange(rows):
        for f in range(features):
            pre = values[r, f] + bias[f]
            values[r, f] = pre if pre > 0.0 or np.isnan(pre) else 0.0


@kernel(parallel=True)
def relu_grad(grad_output, output, grad_pre):
    """``grad_pre = grad_output * (output > 0)`` for 2-D arrays, one pass."""
    rows, features = output.shape
    for r in prange(rows):
        for f in range(features):
            grad_pre[r, f] = grad_output[r, f] if output[r, f] > 0.0 else 0.0


def linear_relu(x, weight, bias=None):
    """``relu(x @ weight.T + bias)`` for ``x (N, in_features)``: the product, then one pass.

    The output is all the backward needs besides ``x`` and ``weight``: it is positive exactly
    where the pre-activation was.
    """
    with blas_threads():
        output = x @ weight.T
    bias_values = np.zeros(weight.shape[0], x.dtype) if bias is None else bias
    bias_relu_inplace(output, bias_values)
    return output


def linear_relu_backward(grad_output, x, weight, output, has_bias: bool):
    """Gradients of :func:`linear_relu`: ``(grad_input, grad_weight, grad_bias or None)``."""
    grad_pre = np.empty_like(output)
    relu_grad(np.ascontiguousarray(grad_output), output, grad_pre)
    with blas_threads():
        return linear_backward(grad_pre, x, weight, has_bias)
