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

from typing import NamedTuple

import numpy as np
from numba import uint64

from minicnn.functional.linear import linear_backward
from minicnn.kernels._jit import kernel
from minicnn.kernels.conv import (
    ColumnLayout,
    ConvGeometry,
    add_to_chunk_tree,
    chunk_row_layout,
    chunk_views,
    column_layout,
    column_scratch_sizes,
    conv_backward_chunks,
    conv_forward_chunks,
    conv_geometry,
    finish_backward_chunk,
    im2col_chunk,
    plan_chunks,
    run_parts,
    shape_arguments,
    take_chunk,
)
from minicnn.kernels.split import post_all
from minicnn.threads import blas_threads

__all__ = [
    "ConvReLUMaxPoolCache",
    "conv2d_relu_maxpool2d",
    "conv2d_relu_maxpool2d_backward",
    "linear_relu",
    "linear_relu_backward",
]


@kernel
def bias_relu_maxpool2x2(product, bias, out_h, row_width, pooled, winners):
    """One pass over the product: ``pooled = maxpool2x2(relu(product + bias))`` in NCHW.

    ``product (C, N*out_h*row_width)`` as :mod:`minicnn.kernels.conv` computes it (output
    ``(oy, ox)`` of sample ``n`` at ``n*out_h*row_width + oy*row_width + ox``);
    ``pooled``/``winners (N, C, out_h//2, out_w//2)``. ``winners`` holds ``dy*2 + dx`` of each
    window's first maximum, or ``-1`` when that maximum is not positive: then ReLU passes it
    no gradient. A last odd row or column belongs to no window and is dropped, as
    MaxPool2d(2) does.

    ReLU is monotone, so the window's maximum is taken over the pre-activations and ReLU
    applied once to it. The winner matches the unfused layers' (torch's tie rule: the first
    of equal values; a NaN takes over): where the maximum is positive, the ReLU outputs
    tie exactly where the pre-activations do; where it is not, no gradient flows, whichever
    entry won. Each comparison is written as a select, not a branch: on real data the
    winner is unpredictable, and mispredicted branches made this pass 3x slower.
    """
    batch, channels, pooled_h, pooled_w = pooled.shape
    positions = out_h * row_width
    for task in range(batch * channels):
        n = task // channels
        c = task % channels
        channel_product = product[c]
        shift = bias[c]
        pooled_plane = pooled[n, c]
        winner_plane = winners[n, c]
        for py in range(pooled_h):
            top = uint64(n * positions + 2 * py * row_width)
            bottom = top + uint64(row_width)
            for px in range(pooled_w):
                left = uint64(2 * px)
                # the window's four entries in row-major order: code = dy*2 + dx
                best = channel_product[top + left] + shift
                code = 0
                candidate = channel_product[top + left + 1] + shift
                takes = (candidate > best) | (candidate != candidate)
                best = candidate if takes else best
                code = 1 if takes else code
                candidate = channel_product[bottom + left] + shift
                takes = (candidate > best) | (candidate != candidate)
                best = candidate if takes else best
                code = 2 if takes else code
                candidate = channel_product[bottom + left + 1] + shift
                takes = (candidate > best) | (candidate != candidate)
                best = candidate if takes else best
                code = 3 if takes else code
                positive = best > 0.0
                pooled_plane[py, px] = best if positive | (best != best) else 0.0  # relu
                winner_plane[py, px] = code if positive else -1


TRANSPOSED_GRAD_MIN_CHANNELS = 16
"""Fused layers with at least this many output channels have their backward prologue write
the transposed gradient too (see :func:`maxpool2x2_relu_grad`). Measured per sample, single
thread: with 16 channels (LeNet-5's second layer) the weight-gradient product takes 5.5 us
instead of 8.8; with 6 (its first) it takes the same time either way, so the copy would only
cost (LeNet-5's first layer's backward: 380 -> 415 us at batch 64)."""


@kernel
def maxpool2x2_relu_grad(grad_pooled, winners, out_h, row_width, grad_product,
                         grad_product_t, bias_partials):
    """Backward of :func:`bias_relu_maxpool2x2`: the product's gradient.

    ``grad_product (C, N*out_h*row_width)`` is overwritten: zero except at each window's winner,
    which receives the pooled gradient; so is its transpose ``grad_product_t (N*out_h*row_width,
    C)``, unless that is empty (the winners are a quarter of the entries, so the second copy
    costs little and spares the weight gradient's product a transpose: see
    :func:`minicnn.kernels.conv.finish_backward_chunk`). ``bias_partials (N, C)`` float64
    gets the per-sample sum of those gradients (the bias gradient, before summing over
    samples).
    """
    batch, channels, pooled_h, pooled_w = grad_pooled.shape
    positions = out_h * row_width
    transposed = grad_product_t.shape[0] > 0
    if transposed:
        flat_t = grad_product_t.reshape(-1)
        for i in range(uint64(flat_t.size)):
            flat_t[i] = 0.0
    for task in range(batch * channels):
        n = task // channels
        c = task % channels
        channel_grad = grad_product[c]
        start = uint64(n * positions)
        for p in range(uint64(positions)):
            channel_grad[start + p] = 0.0
        grad_plane = grad_pooled[n, c]
        winner_plane = winners[n, c]
        total = 0.0
        for py in range(pooled_h):
            for px in range(pooled_w):
                code = winner_plane[py, px]
                if code >= 0:
                    value = grad_plane[py, px]
                    position = start + uint64((2 * py + code // 2) * row_width + 2 * px
                                              + code % 2)
                    channel_grad[position] = value
                    if transposed:
                        grad_product_t[position, c] = value
                    total += value
        bias_partials[n, c] = total


@kernel
def forward_part_to_pooled(x, weight_rows, padded_rows, shape, count, next_chunk,
                           helper_words, cols_buffer, product_buffer, bias, pooled, winners):
    """The fused forward's chunks this thread takes, in one GIL-free call: im2col,
    ``weight_rows @ cols`` and :func:`bias_relu_maxpool2x2` (see
    :func:`minicnn.kernels.conv.forward_part_to_nchw`)."""
    post_all(helper_words)
    batch = x.shape[0]
    out_channels, height = weight_rows.shape
    row_width, positions = chunk_row_layout(shape, padded_rows)
    index = take_chunk(next_chunk)
    while index < count:
        start, stop, cols, product = chunk_views(batch, count, index, positions, cols_buffer,
                                                 height, product_buffer, out_channels)
        im2col_chunk(x[start:stop], padded_rows, shape, cols)
        np.dot(weight_rows, cols, product)
        bias_relu_maxpool2x2(product, bias, shape[8], row_width, pooled[start:stop],
                             winners[start:stop])
        index = take_chunk(next_chunk)


@kernel
def backward_part_from_pooled(x, weight_rows, padded_rows, shape, count, next_chunk,
                              helper_words, cols_buffer, grad_product_buffer,
                              grad_product_t_buffer, grad_pooled, winners, bias_partials,
                              partials, bias_sums, arrivals, input_grad, grad_input):
    """The fused backward's chunks this thread takes, in one GIL-free call, as
    :func:`minicnn.kernels.conv.backward_part_from_nchw` with
    :func:`maxpool2x2_relu_grad` as the prologue (which also writes the transposed
    gradient into ``grad_product_t_buffer``)."""
    post_all(helper_words)
    batch = x.shape[0]
    out_channels, height = weight_rows.shape
    row_width, positions = chunk_row_layout(shape, padded_rows)
    index = take_chunk(next_chunk)
    while index < count:
        start, stop, cols, grad_product = chunk_views(batch, count, index, positions,
                                                      cols_buffer, height,
                                                      grad_product_buffer, out_channels)
        if grad_product_t_buffer.size > 0:
            grad_product_t = grad_product_t_buffer[: grad_product.size].reshape(
                grad_product.shape[1], out_channels)
        else:  # no transposed copy for this layer (see TRANSPOSED_GRAD_MIN_CHANNELS)
            grad_product_t = grad_product_t_buffer.reshape(0, out_channels)
        im2col_chunk(x[start:stop], padded_rows, shape, cols)
        maxpool2x2_relu_grad(grad_pooled[start:stop], winners[start:stop], shape[8],
                             row_width, grad_product, grad_product_t,
                             bias_partials[start:stop])
        finish_backward_chunk(cols, grad_product, grad_product_t, weight_rows,
                              partials[index, 0], input_grad, padded_rows, shape,
                              grad_input[start:stop])
        add_to_chunk_tree(index, count, start, stop, partials, bias_partials, bias_sums,
                          arrivals)
        index = take_chunk(next_chunk)


class ConvReLUMaxPoolCache(NamedTuple):
    """What :func:`conv2d_relu_maxpool2d` keeps for its backward."""

    x: np.ndarray  # the contiguous input (N, C_in, H, W)
    winners: np.ndarray  # int8 (N, C_out, H_out//2, W_out//2): the codes described above
    geometry: ConvGeometry  # the checked shapes, so the backward need not check them again
    layout: ColumnLayout  # the columns' layout the forward chose (x and weight were finite)


def conv2d_relu_maxpool2d(x, weight, bias=None, stride=1, padding=0, dilation=1,
                          groups: int = 1):
    """``max_pool2d(relu(conv2d(x, weight, bias, ...)), 2)`` in one pass after the product.

    Returns ``(pooled, cache)``: ``pooled (N, C_out, H_out//2, W_out//2)`` and a
    :class:`ConvReLUMaxPoolCache` for :func:`conv2d_relu_maxpool2d_backward`.
    """
    geometry = conv_geometry(x, weight, bias, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    batch, out_channels = x.shape[0], weight.shape[0]
    pooled_shape = (batch, out_channels, geometry.out_h // 2, geometry.out_w // 2)
    pooled = np.empty(pooled_shape, dtype=x.dtype)
    winners = np.empty(pooled_shape, dtype=np.int8)
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias
    layout = column_layout(x, weight, geometry)

    if groups == 1:
        weight_rows = np.ascontiguousarray(weight.reshape(out_channels, -1))
        positions = layout.positions(geometry)
        plan = plan_chunks(batch, positions, geometry, x.shape[1], out_channels, x.itemsize)
        run_parts(plan, forward_part_to_pooled,
                  (x, weight_rows, layout.padded_rows, shape_arguments(geometry, layout)),
                  (bias_values, pooled, winners),
                  column_scratch_sizes(weight_rows.shape[1], out_channels, positions), x.dtype)
        return pooled, ConvReLUMaxPoolCache(x, winners, geometry, layout)

    def bias_relu_pool(product, start, stop):
        bias_relu_maxpool2x2(product, bias_values, geometry.out_h, layout.row_width,
                             pooled[start:stop], winners[start:stop])

    conv_forward_chunks(x, weight, geometry, groups, layout, bias_relu_pool)
    return pooled, ConvReLUMaxPoolCache(x, winners, geometry, layout)


def conv2d_relu_maxpool2d_backward(grad_pooled, weight, groups: int,
                                   cache: ConvReLUMaxPoolCache, input_grad: bool = True):
    """Gradients of :func:`conv2d_relu_maxpool2d`: ``(grad_input or None, grad_weight,
    grad_bias)``; the columns are rebuilt chunk by chunk, as in
    :func:`minicnn.kernels.conv.conv2d_backward`."""
    expected = cache.winners.shape
    if not isinstance(grad_pooled, np.ndarray) or grad_pooled.shape != expected:
        got = grad_pooled.shape if isinstance(grad_pooled, np.ndarray) else type(grad_pooled)
        raise ValueError(f"conv2d_relu_maxpool2d_backward: expected grad_output of shape "
                         f"{expected}, got {got}")
    grad_pooled = np.ascontiguousarray(grad_pooled, dtype=cache.x.dtype)
    layout = cache.layout
    out_h, row_width = cache.geometry.out_h, layout.row_width

    no_transpose = np.empty((0, weight.shape[0]), dtype=grad_pooled.dtype)

    def from_grad_pooled(start, stop, grad_product, bias_partials):
        maxpool2x2_relu_grad(grad_pooled[start:stop], cache.winners[start:stop], out_h,
                             row_width, grad_product, no_transpose, bias_partials)

    out_channels = weight.shape[0]
    transposed = out_channels >= TRANSPOSED_GRAD_MIN_CHANNELS
    transposed_size = out_channels * layout.positions(cache.geometry) if transposed else 0
    return conv_backward_chunks(cache.x, weight, cache.geometry, groups, layout,
                                from_grad_pooled, input_grad, backward_part_from_pooled,
                                (grad_pooled, cache.winners), extra_scratch=(transposed_size,))


# Serial: a classifier's activations are a few thousand numbers, less work than waking
# a second thread costs.
@kernel
def bias_relu_inplace(values, bias):
    """``values (M, F) = relu(values + bias)`` in place: the Linear -> ReLU epilogue."""
    rows, features = values.shape
    for r in range(rows):
        for f in range(features):
            pre = values[r, f] + bias[f]
            values[r, f] = pre if pre > 0.0 or np.isnan(pre) else 0.0


@kernel
def relu_grad(grad_output, output, grad_pre):
    """``grad_pre = grad_output * (output > 0)`` for 2-D arrays, one pass."""
    rows, features = output.shape
    for r in range(rows):
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
