"""Fast 2-D convolution: Numba im2col/col2im into rows, and one BLAS product per chunk.

The twin of :mod:`minicnn.functional.conv` (same function names, same arguments, same
results), laid out for speed rather than for reading:

* The column matrix holds one *row* per output position, ``cols (N*H_out*W_out, K)`` with
  ``K = C_in*kH*kW`` ordered ``(c, ky, kx)`` as the weight is, so the forward is the single
  product ``cols @ W.reshape(C_out, K).T`` -> ``(N*H_out*W_out, C_out)``. BLAS runs these
  tall, skinny products faster in this orientation than ``W @ cols`` per sample.
* :func:`im2col_rows` reads the unpadded input and writes zeros where a window reaches into
  the padding, so no padded copy of the input is ever made; :func:`col2im_rows` likewise
  drops the gradient that lands on padding.
* The product's rows are in ``(n, y, x)`` order and its columns are channels, i.e. NHWC;
  :func:`rows_to_nchw` turns it into PyTorch's NCHW while adding the bias (one pass), and
  :func:`nchw_to_rows` does the reverse for the gradient while summing the bias gradient.
* Memory: the batch is processed in chunks whose column matrix stays within
  :data:`COLUMN_BUDGET_BYTES`. When the whole batch fits, the forward's ``cols`` is returned
  for the backward (which then needs no second im2col); when it does not, the backward
  rebuilds the columns chunk by chunk. The backward writes the columns' gradient into the
  same buffer, so a layer's peak is one column matrix (plus its output), never two.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import prange

from minicnn.functional._shapes import conv_output_size
from minicnn.functional.conv import (
    _check_conv_operands,
    _positive_pair,
    check_kernel_fits,
    conv2d_padding_sides,
)
from minicnn.kernels._jit import helper, kernel
from minicnn.threads import blas_threads

__all__ = [
    "COLUMN_BUDGET_BYTES",
    "ConvGeometry",
    "col2im_rows",
    "conv2d",
    "conv2d_backward",
    "conv2d_forward",
    "conv_geometry",
    "im2col_rows",
    "nchw_to_rows",
    "rows_to_nchw",
]

COLUMN_BUDGET_BYTES = 64 * 2**20
"""Largest column matrix built at once (64 MiB); a larger batch is processed in chunks."""


class ConvGeometry(NamedTuple):
    """Everything the kernels need to know about one convolution's shapes."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    sides: tuple[int, int, int, int]  # padding (top, bottom, left, right)
    dilation: tuple[int, int]
    out_h: int
    out_w: int

    @property
    def positions(self) -> int:
        """``H_out * W_out``: rows of the column matrix per sample."""
        return self.out_h * self.out_w


def conv_geometry(x, weight, bias, stride, padding, dilation, groups,
                  owner: str = "conv2d") -> ConvGeometry:
    """Check the operands as :func:`minicnn.functional.conv.conv2d` does; return the geometry."""
    _check_conv_operands(owner, x, weight, bias, groups)
    stride = _positive_pair(stride, "stride", owner)
    dilation = _positive_pair(dilation, "dilation", owner)
    kernel_size = weight.shape[2:]
    sides = conv2d_padding_sides(padding, kernel_size, dilation, stride, owner)
    padded = (x.shape[2] + sides[0] + sides[1], x.shape[3] + sides[2] + sides[3])
    check_kernel_fits(owner, padded, kernel_size, dilation)
    out_h = conv_output_size(padded[0], kernel_size[0], stride[0], 0, dilation[0])
    out_w = conv_output_size(padded[1], kernel_size[1], stride[1], 0, dilation[1])
    return ConvGeometry(tuple(kernel_size), stride, sides, dilation, out_h, out_w)


def chunk_size(batch: int, geometry: ConvGeometry, in_channels: int, itemsize: int) -> int:
    """How many samples' columns fit in :data:`COLUMN_BUDGET_BYTES` (at least one)."""
    row_bytes = in_channels * geometry.kernel[0] * geometry.kernel[1] * itemsize
    per_sample = max(geometry.positions * row_bytes, 1)
    return max(1, min(batch, COLUMN_BUDGET_BYTES // per_sample))


# ---------------------------------------------------------------------------- Numba kernels
@helper
def _input_index(out_index, stride, tap, dilation, pad_before):
    """Input row (or column) that kernel tap ``tap`` of output ``out_index`` reads."""
    return out_index * stride + tap * dilation - pad_before


@kernel(parallel=True)
def im2col_rows(x, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                dilation_h, dilation_w, out_h, out_w, cols):
    """Fill ``cols (N*out_h*out_w, C*kH*kW)`` from ``x (N, C, H, W)``; zeros for padding.

    ``cols[(n*out_h + oy)*out_w + ox, (c*kH + ky)*kW + kx] =
    x[n, c, oy*sH + ky*dH - pad_top, ox*sW + kx*dW - pad_left]`` (0 outside ``x``).
    Parallel over ``(sample, output row)`` pairs: each writes its own rows of ``cols``.
    """
    batch, channels, height, width = x.shape
    for task in prange(batch * out_h):
        n = task // out_h
        oy = task % out_h
        for ox in range(out_w):
            row = task * out_w + ox
            column = 0
            for c in range(channels):
                for ky in range(kernel_h):
                    iy = _input_index(oy, stride_h, ky, dilation_h, pad_top)
                    row_inside = 0 <= iy < height
                    for kx in range(kernel_w):
                        ix = _input_index(ox, stride_w, kx, dilation_w, pad_left)
                        if row_inside and 0 <= ix < width:
                            cols[row, column] = x[n, c, iy, ix]
                        else:
                            cols[row, column] = 0.0
                        column += 1


@kernel(parallel=True)
def col2im_rows(grad_cols, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                dilation_h, dilation_w, out_h, out_w, grad_x):
    """Adjoint of :func:`im2col_rows`: add every column entry back onto its input pixel.

    ``grad_x (N, C, H, W)`` is overwritten. Overlapping windows copied one pixel into several
    rows, so its gradient is the sum over them (hence ``+=``); entries that came from the
    padding are dropped. Parallel over ``(sample, channel)`` planes, which no two tasks share.
    """
    batch, channels, height, width = grad_x.shape
    kernel_area = kernel_h * kernel_w
    for plane in prange(batch * channels):
        n = plane // channels
        c = plane % channels
        for iy in range(height):
            for ix in range(width):
                grad_x[n, c, iy, ix] = 0.0
        for oy in range(out_h):
            for ox in range(out_w):
                row = (n * out_h + oy) * out_w + ox
                for ky in range(kernel_h):
                    iy = _input_index(oy, stride_h, ky, dilation_h, pad_top)
                    if iy < 0 or iy >= height:
                        continue
                    for kx in range(kernel_w):
                        ix = _input_index(ox, stride_w, kx, dilation_w, pad_left)
                        if 0 <= ix < width:
                            grad_x[n, c, iy, ix] += grad_cols[row, c * kernel_area
                                                              + ky * kernel_w + kx]


@kernel(parallel=True)
def rows_to_nchw(rows, bias, output):
    """``output[n, o, p] = rows[n*P + p, o] + bias[o]``: NHWC product rows to NCHW.

    ``rows (N*P, C_out)``, ``bias (C_out,)`` (zeros for no bias), ``output (N, C_out, P)``.
    """
    batch, channels, positions = output.shape
    for n in prange(batch):
        for o in range(channels):
            for p in range(positions):
                output[n, o, p] = rows[n * positions + p, o] + bias[o]


@kernel(parallel=True)
def nchw_to_rows(grad_output, rows, bias_partials):
    """``rows[n*P + p, o] = grad_output[n, o, p]``, and per-sample bias-gradient sums.

    ``bias_partials (N, C_out)`` float64 receives ``sum_p grad_output[n, o, p]``: the bias
    gradient is their sum over ``n``. Summing in float64 keeps a float32 bias gradient over
    ``N*H_out*W_out`` terms as accurate as PyTorch's.
    """
    batch, channels, positions = grad_output.shape
    for n in prange(batch):
        for o in range(channels):
            total = 0.0
            for p in range(positions):
                value = grad_output[n, o, p]
                rows[n * positions + p, o] = value
                total += value
            bias_partials[n, o] = total


# ---------------------------------------------------------------------------- products
def _im2col(x, geometry: ConvGeometry, cols) -> None:
    (kernel_h, kernel_w), (stride_h, stride_w) = geometry.kernel, geometry.stride
    im2col_rows(x, kernel_h, kernel_w, stride_h, stride_w, geometry.sides[0], geometry.sides[2],
                geometry.dilation[0], geometry.dilation[1], geometry.out_h, geometry.out_w, cols)


def _col2im(grad_cols, geometry: ConvGeometry, grad_x) -> None:
    (kernel_h, kernel_w), (stride_h, stride_w) = geometry.kernel, geometry.stride
    col2im_rows(grad_cols, kernel_h, kernel_w, stride_h, stride_w, geometry.sides[0],
                geometry.sides[2], geometry.dilation[0], geometry.dilation[1], geometry.out_h,
                geometry.out_w, grad_x)


def columns_times_weight(cols, weight, groups: int):
    """``cols (M, K) @ W.reshape(C_out, K).T -> (M, C_out)``, one product per group.

    Group ``g`` reads columns ``[g*K/G, (g+1)*K/G)`` (its input channels, as ``K`` is ordered
    ``(c, ky, kx)``) and writes output channels ``[g*C_out/G, (g+1)*C_out/G)``.
    """
    out_channels = weight.shape[0]
    weight_rows = weight.reshape(out_channels, -1)
    with blas_threads():
        if groups == 1:
            return cols @ weight_rows.T
        result = np.empty((cols.shape[0], out_channels), dtype=cols.dtype)
        group_k, group_out = weight_rows.shape[1], out_channels // groups
        for g in range(groups):
            result[:, g * group_out:(g + 1) * group_out] = (
                cols[:, g * group_k:(g + 1) * group_k] @ weight_rows[g * group_out:(g + 1)
                                                                     * group_out].T)
        return result


def accumulate_weight_grad(grad_rows, cols, grad_weight_rows, groups: int) -> None:
    """``grad_weight_rows += grad_rows.T @ cols`` per group: ``(C_out, M) @ (M, K)``."""
    with blas_threads():
        if groups == 1:
            grad_weight_rows += grad_rows.T @ cols
            return
        group_k = grad_weight_rows.shape[1]
        group_out = grad_weight_rows.shape[0] // groups
        for g in range(groups):
            outs = slice(g * group_out, (g + 1) * group_out)
            grad_weight_rows[outs] += grad_rows[:, outs].T @ cols[:, g * group_k:(g + 1) * group_k]


def columns_grad(grad_rows, weight, groups: int, out) -> None:
    """``out (M, K) = grad_rows (M, C_out) @ W.reshape(C_out, K)``, per group; ``out`` may be
    the forward's ``cols`` buffer, which the weight gradient no longer needs."""
    out_channels = weight.shape[0]
    weight_rows = weight.reshape(out_channels, -1)
    with blas_threads():
        if groups == 1:
            np.matmul(grad_rows, weight_rows, out=out)
            return
        group_k, group_out = weight_rows.shape[1], out_channels // groups
        for g in range(groups):
            outs = slice(g * group_out, (g + 1) * group_out)
            out[:, g * group_k:(g + 1) * group_k] = grad_rows[:, outs] @ weight_rows[outs]


# ---------------------------------------------------------------------------- forward
def conv_forward_rows(x, weight, geometry: ConvGeometry, groups: int, epilogue):
    """Run im2col and the product chunk by chunk; ``epilogue(rows, start, stop)`` consumes
    each chunk's ``(chunk*H_out*W_out, C_out)`` product rows (samples ``start:stop``).

    Returns the column matrix of the whole batch when it fits in one chunk (for the
    backward), else ``None`` (the backward will rebuild the columns chunk by chunk).
    """
    batch, in_channels = x.shape[:2]
    chunk = chunk_size(batch, geometry, in_channels, x.itemsize)
    width = in_channels * geometry.kernel[0] * geometry.kernel[1]
    cols = np.empty((chunk * geometry.positions, width), dtype=x.dtype)
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        chunk_cols = cols[: (stop - start) * geometry.positions]
        _im2col(x[start:stop], geometry, chunk_cols)
        epilogue(columns_times_weight(chunk_cols, weight, groups), start, stop)
    return cols if chunk == batch else None


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """:func:`minicnn.functional.conv.conv2d_forward`, fast: returns ``(output, cols)``.

    ``x (N, C_in, H, W)`` -> ``output (N, C_out, H_out, W_out)``. ``cols`` is this module's
    row-layout column matrix ``(N*H_out*W_out, C_in*kH*kW)``, or ``None`` when the batch was
    processed in chunks; pass it, unchanged, to :func:`conv2d_backward` of this module.
    """
    geometry = conv_geometry(x, weight, bias, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    batch, out_channels = x.shape[0], weight.shape[0]
    output = np.empty((batch, out_channels, geometry.positions), dtype=x.dtype)
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias

    def to_output(rows, start, stop):
        rows_to_nchw(rows, bias_values, output[start:stop])

    cols = conv_forward_rows(x, weight, geometry, groups, to_output)
    return output.reshape(batch, out_channels, geometry.out_h, geometry.out_w), cols


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """:func:`minicnn.functional.conv.conv2d`, fast; also accepts an unbatched ``(C, H, W)``."""
    if isinstance(x, np.ndarray) and x.ndim == 3:
        return conv2d_forward(x[None], weight, bias, stride, padding, dilation, groups)[0][0]
    return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


# ---------------------------------------------------------------------------- backward
def conv_backward_rows(x, weight, geometry: ConvGeometry, groups: int, cols, prologue,
                       input_grad: bool):
    """The backward's chunk loop, shared by the plain and the fused convolution.

    ``prologue(start, stop, grad_rows, bias_partials)`` writes the gradient of the product
    rows of samples ``start:stop`` into ``grad_rows (chunk*P, C_out)`` and their per-sample
    bias-gradient sums into ``bias_partials (chunk, C_out)``. Returns ``(grad_input or None,
    grad_weight, grad_bias)``.
    """
    batch, in_channels = x.shape[:2]
    out_channels = weight.shape[0]
    positions = geometry.positions
    chunk = batch if cols is not None else chunk_size(batch, geometry, in_channels, x.itemsize)
    if cols is None:
        width = in_channels * geometry.kernel[0] * geometry.kernel[1]
        cols = np.empty((chunk * positions, width), dtype=x.dtype)
    grad_weight = np.zeros((out_channels, weight[0].size), dtype=x.dtype)
    grad_bias = np.zeros(out_channels, dtype=np.float64)
    grad_input = np.empty(x.shape, dtype=x.dtype) if input_grad else None
    grad_rows = np.empty((chunk * positions, out_channels), dtype=x.dtype)
    bias_partials = np.empty((chunk, out_channels), dtype=np.float64)
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        rows = (stop - start) * positions
        chunk_cols, chunk_grad_rows = cols[:rows], grad_rows[:rows]
        if chunk != batch:
            _im2col(x[start:stop], geometry, chunk_cols)
        prologue(start, stop, chunk_grad_rows, bias_partials[: stop - start])
        grad_bias += bias_partials[: stop - start].sum(axis=0)
        accumulate_weight_grad(chunk_grad_rows, chunk_cols, grad_weight, groups)
        if input_grad:
            # The weight gradient has read the columns: their buffer takes their gradient.
            columns_grad(chunk_grad_rows, weight, groups, out=chunk_cols)
            _col2im(chunk_cols, geometry, grad_input[start:stop])
    return grad_input, grad_weight.reshape(weight.shape), grad_bias.astype(x.dtype)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups: int = 1,
                    cols=None, input_grad: bool = True):
    """:func:`minicnn.functional.conv.conv2d_backward`, fast.

    ``cols`` is what this module's :func:`conv2d_forward` returned (or ``None``: rebuilt
    from ``x``). Unlike the reference, the buffer is *consumed*: the columns' gradient is
    written into it. With ``input_grad=False`` the input gradient (the col2im half of the
    work) is skipped and ``None`` returned in its place, as for a network's first layer.
    Returns ``(grad_input, grad_weight, grad_bias)``.
    """
    geometry = conv_geometry(x, weight, None, stride, padding, dilation, groups,
                             owner="conv2d_backward")
    expected = (x.shape[0], weight.shape[0], geometry.out_h, geometry.out_w)
    if not isinstance(grad_output, np.ndarray) or grad_output.shape != expected:
        got = grad_output.shape if isinstance(grad_output, np.ndarray) else type(grad_output)
        raise ValueError(f"conv2d_backward: expected grad_output of shape {expected}, got {got}")
    if grad_output.dtype != x.dtype:
        raise TypeError(f"conv2d_backward: grad_output dtype {grad_output.dtype} does not match "
                        f"the input dtype {x.dtype}")
    x = np.ascontiguousarray(x)
    grad_flat = np.ascontiguousarray(grad_output).reshape(expected[0], expected[1], -1)

    def from_grad_output(start, stop, grad_rows, bias_partials):
        nchw_to_rows(grad_flat[start:stop], grad_rows, bias_partials)

    return conv_backward_rows(x, weight, geometry, groups, cols, from_grad_output, input_grad)
