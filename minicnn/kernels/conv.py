"""Fast 2-D convolution: Numba im2col/col2im and one BLAS product per chunk of the batch.

The twin of :mod:`minicnn.functional.conv` (same function names, arguments and results),
laid out for speed rather than for reading:

* The column matrix is ``cols (K, N*H_out*W_out)`` with ``K = C_in*kH*kW`` ordered
  ``(c, ky, kx)`` as the weight is, so the forward is the single product
  ``W.reshape(C_out, K) @ cols -> (C_out, N*H_out*W_out)``. For one kernel tap and one
  output row, im2col copies one contiguous run of ``W_out`` values (a vectorised copy);
  the row layout ``(N*H_out*W_out, K)`` would copy runs of only ``kW`` values, which measured
  3-5x slower here, more than its product gains.
* :func:`im2col_columns` reads the unpadded input and writes zeros where a window reaches
  into the padding, so no padded copy of the input is made; :func:`col2im_columns` likewise
  drops the gradient that lands on padding.
* The product is channel-major ``(C_out, N, P)``; :func:`columns_to_nchw` turns it into
  PyTorch's NCHW while adding the bias (one pass), and :func:`nchw_to_columns` does the
  reverse for the gradient while summing the bias gradient.
* Memory: the batch is processed in chunks whose column matrix stays within
  :data:`COLUMN_BUDGET_BYTES`. When the whole batch fits, the forward's ``cols`` is returned
  for the backward (which then needs no second im2col); when it does not, the backward
  rebuilds the columns chunk by chunk. The backward writes the columns' gradient into the
  same buffer, so a layer's peak is one column matrix (plus its output), never two.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import prange, uint64

from minicnn.functional._shapes import conv_output_size
from minicnn.functional.conv import (
    _check_conv_operands,
    _positive_pair,
    check_kernel_fits,
    conv2d_padding_sides,
)
from minicnn.kernels._jit import helper, kernel
from minicnn.threads import blas_threads, get_num_threads, run_split

__all__ = [
    "COLUMN_BUDGET_BYTES",
    "ConvGeometry",
    "col2im_columns",
    "columns_to_nchw",
    "conv2d",
    "conv2d_backward",
    "conv2d_forward",
    "conv_geometry",
    "im2col_columns",
    "nchw_to_columns",
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
        """``H_out * W_out``: columns of the column matrix per sample."""
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
def valid_outputs(out_size, stride, offset, size):
    """``(lo, hi)``: the outputs ``o`` whose tap ``o*stride + offset`` lies in ``[0, size)``.

    Outputs before ``lo`` and from ``hi`` on read padding; in between they read the input.
    """
    lo = 0 if offset >= 0 else (stride - 1 - offset) // stride
    last = size - 1 - offset
    hi = 0 if last < 0 else last // stride + 1
    hi = min(hi, out_size)
    return min(lo, hi), hi


@helper
def copy_run(dst, dst_start, src, src_start, count, step):
    """``dst[dst_start + i] = src[src_start + i*step]`` for ``i < count`` (1-D arrays).

    Unsigned indices tell LLVM no index is negative, so it drops NumPy-style wraparound
    and vectorises the unit-step copy (4x faster here).
    """
    d, s = uint64(dst_start), uint64(src_start)
    if step == 1:
        for i in range(uint64(count)):
            dst[d + i] = src[s + i]
    else:
        for i in range(uint64(count)):
            dst[d + i] = src[s + i * uint64(step)]


@helper
def add_run(dst, dst_start, src, src_start, count, step):
    """``dst[dst_start + i*step] += src[src_start + i]`` for ``i < count``: col2im's run."""
    d, s = uint64(dst_start), uint64(src_start)
    if step == 1:
        for i in range(uint64(count)):
            dst[d + i] += src[s + i]
    else:
        for i in range(uint64(count)):
            dst[d + i * uint64(step)] += src[s + i]


@helper
def zero_run(dst, start, count):
    for i in range(uint64(count)):
        dst[uint64(start) + i] = 0.0


@kernel(parallel=True)
def im2col_columns(x, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                   dilation_h, dilation_w, out_h, out_w, cols):
    """Fill ``cols (C*kH*kW, N*out_h*out_w)`` from ``x (N, C, H, W)``; zeros for padding.

    ``cols[(c*kH + ky)*kW + kx, (n*out_h + oy)*out_w + ox] =
    x[n, c, oy*sH + ky*dH - pad_top, ox*sW + kx*dW - pad_left]`` (0 outside ``x``).
    For a fixed tap and output row the entries form one run along ``ox``, read from one
    input row: the inner loop is a plain (vectorised) copy. Parallel over ``(n, c)`` planes.
    """
    batch, channels, height, width = x.shape
    positions = out_h * out_w
    flat_x = x.reshape(-1)
    for plane in prange(batch * channels):
        n = plane // channels
        c = plane % channels
        plane_start = plane * height * width
        for ky in range(kernel_h):
            for kx in range(kernel_w):
                row = cols[(c * kernel_h + ky) * kernel_w + kx]
                offset = kx * dilation_w - pad_left
                lo, hi = valid_outputs(out_w, stride_w, offset, width)
                for oy in range(out_h):
                    start = n * positions + oy * out_w
                    iy = oy * stride_h + ky * dilation_h - pad_top
                    if iy < 0 or iy >= height:
                        zero_run(row, start, out_w)
                        continue
                    zero_run(row, start, lo)
                    copy_run(row, start + lo, flat_x,
                             plane_start + iy * width + lo * stride_w + offset, hi - lo,
                             stride_w)
                    zero_run(row, start + hi, out_w - hi)


@kernel(parallel=True)
def col2im_columns(grad_cols, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                   dilation_h, dilation_w, out_h, out_w, grad_x):
    """Adjoint of :func:`im2col_columns`: add every column entry back onto its input pixel.

    ``grad_x (N, C, H, W)`` is overwritten. Overlapping windows copied one pixel into several
    entries, so its gradient is the sum over them (hence the adds); entries that came from
    the padding are dropped. Parallel over ``(n, c)`` planes, which no two tasks share.
    """
    batch, channels, height, width = grad_x.shape
    positions = out_h * out_w
    flat_grad_x = grad_x.reshape(-1)
    for plane in prange(batch * channels):
        n = plane // channels
        c = plane % channels
        plane_start = plane * height * width
        zero_run(flat_grad_x, plane_start, height * width)
        for ky in range(kernel_h):
            for kx in range(kernel_w):
                row = grad_cols[(c * kernel_h + ky) * kernel_w + kx]
                offset = kx * dilation_w - pad_left
                lo, hi = valid_outputs(out_w, stride_w, offset, width)
                for oy in range(out_h):
                    iy = oy * stride_h + ky * dilation_h - pad_top
                    if 0 <= iy < height:
                        add_run(flat_grad_x, plane_start + iy * width + lo * stride_w + offset,
                                row, n * positions + oy * out_w + lo, hi - lo, stride_w)


@kernel(parallel=True)
def columns_to_nchw(product, bias, output):
    """``output[n, o, p] = product[o, n*P + p] + bias[o]``: ``(C_out, N*P)`` to NCHW.

    ``bias (C_out,)`` is zeros for a layer without bias; ``output (N, C_out, P)``.
    """
    batch, channels, positions = output.shape
    for task in prange(batch * channels):
        n = task // channels
        o = task % channels
        for p in range(positions):
            output[n, o, p] = product[o, n * positions + p] + bias[o]


@kernel(parallel=True)
def nchw_to_columns(grad_output, grad_product, bias_partials):
    """``grad_product[o, n*P + p] = grad_output[n, o, p]``, and per-sample bias sums.

    ``bias_partials (N, C_out)`` float64 receives ``sum_p grad_output[n, o, p]``; the bias
    gradient is their sum over ``n``. Summing in float64 keeps a float32 bias gradient over
    ``N*H_out*W_out`` terms as accurate as PyTorch's.
    """
    batch, channels, positions = grad_output.shape
    for task in prange(batch * channels):
        n = task // channels
        o = task % channels
        total = 0.0
        for p in range(positions):
            value = grad_output[n, o, p]
            grad_product[o, n * positions + p] = value
            total += value
        bias_partials[n, o] = total


# ---------------------------------------------------------------------------- products
def _im2col(x, geometry: ConvGeometry, cols) -> None:
    (kernel_h, kernel_w), (stride_h, stride_w) = geometry.kernel, geometry.stride
    im2col_columns(x, kernel_h, kernel_w, stride_h, stride_w, geometry.sides[0],
                   geometry.sides[2], geometry.dilation[0], geometry.dilation[1],
                   geometry.out_h, geometry.out_w, cols)


def _col2im(grad_cols, geometry: ConvGeometry, grad_x) -> None:
    (kernel_h, kernel_w), (stride_h, stride_w) = geometry.kernel, geometry.stride
    col2im_columns(grad_cols, kernel_h, kernel_w, stride_h, stride_w, geometry.sides[0],
                   geometry.sides[2], geometry.dilation[0], geometry.dilation[1],
                   geometry.out_h, geometry.out_w, grad_x)


def _group_slices(groups: int, out_channels: int, group_k: int):
    """``(output channels, column rows)`` of each group: ``K`` is ordered ``(c, ky, kx)``,
    so group ``g``'s input channels are rows ``[g*K/G, (g+1)*K/G)`` of the columns."""
    group_out = out_channels // groups
    return [(slice(g * group_out, (g + 1) * group_out), slice(g * group_k, (g + 1) * group_k))
            for g in range(groups)]


SPLIT_PRODUCT_SIZE = 4_000_000
"""Products of more multiply-adds than this run on every kernel thread (see
:func:`minicnn.threads.run_split`); smaller ones are not worth the hand-off (~30 us).
Every product of a LeNet-5 convolution at batch 64 is above it (6x25x50176 = 7.5M for the
first); splitting them measured 5-25% faster per training step than not splitting."""


def _by_column_slices(function, rows: int, inner: int, columns: int) -> list:
    """``[function(slice) for each slice of the M columns]``: one slice, or one per kernel
    thread at once for a product of ``rows * inner * columns`` multiply-adds above
    :data:`SPLIT_PRODUCT_SIZE`. Each runs with single-threaded BLAS."""
    parts = get_num_threads() if rows * inner * columns > SPLIT_PRODUCT_SIZE else 1
    bounds = [columns * part // parts for part in range(parts + 1)]

    def run_part(part):
        return function(slice(bounds[part], bounds[part + 1]))

    # BLAS's thread count is one setting for the whole process: set it once, around all parts.
    with blas_threads():
        return run_split(run_part, parts)


def weight_times_columns(weight, cols, groups: int):
    """``W.reshape(C_out, K/G) @ cols (K, M) -> (C_out, M)``, one product per group."""
    weight_rows = weight.reshape(weight.shape[0], -1)
    product = np.empty((weight.shape[0], cols.shape[1]), dtype=cols.dtype)
    slices = _group_slices(groups, weight.shape[0], weight_rows.shape[1])

    def part(columns):
        for outs, rows in slices:
            np.matmul(weight_rows[outs], cols[rows, columns], out=product[outs, columns])

    _by_column_slices(part, weight_rows.shape[0], weight_rows.shape[1], cols.shape[1])
    return product


def accumulate_weight_grad(grad_product, cols, grad_weight_rows, groups: int) -> None:
    """``grad_weight_rows (C_out, K/G) += grad_product (C_out, M) @ cols.T`` per group."""
    slices = _group_slices(groups, *grad_weight_rows.shape)

    def part(columns):
        return [grad_product[outs, columns] @ cols[rows, columns].T for outs, rows in slices]

    for partial in _by_column_slices(part, *grad_weight_rows.shape, cols.shape[1]):
        for (outs, _), grad in zip(slices, partial):
            grad_weight_rows[outs] += grad


def columns_grad(grad_product, weight, groups: int, out) -> None:
    """``out (K, M) = W.reshape(C_out, K/G).T @ grad_product``, per group. ``out`` may be
    the forward's ``cols`` buffer, which the weight gradient no longer needs."""
    weight_rows = weight.reshape(weight.shape[0], -1)
    slices = _group_slices(groups, weight.shape[0], weight_rows.shape[1])

    def part(columns):
        for outs, rows in slices:
            np.matmul(weight_rows[outs].T, grad_product[outs, columns], out=out[rows, columns])

    _by_column_slices(part, weight_rows.shape[0], weight_rows.shape[1], out.shape[1])


# ---------------------------------------------------------------------------- forward
def conv_forward_columns(x, weight, geometry: ConvGeometry, groups: int, epilogue):
    """Run im2col and the product chunk by chunk; ``epilogue(product, start, stop)`` consumes
    each chunk's ``(C_out, chunk*H_out*W_out)`` product (samples ``start:stop``).

    Returns the column matrix of the whole batch when it fits in one chunk (for the
    backward), else ``None`` (the backward will rebuild the columns chunk by chunk).
    """
    batch, in_channels = x.shape[:2]
    chunk = chunk_size(batch, geometry, in_channels, x.itemsize)
    height = in_channels * geometry.kernel[0] * geometry.kernel[1]
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        cols = np.empty((height, (stop - start) * geometry.positions), dtype=x.dtype)
        _im2col(x[start:stop], geometry, cols)
        epilogue(weight_times_columns(weight, cols, groups), start, stop)
    return cols if chunk == batch else None


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """:func:`minicnn.functional.conv.conv2d_forward`, fast: returns ``(output, cols)``.

    ``x (N, C_in, H, W)`` -> ``output (N, C_out, H_out, W_out)``. ``cols`` is this module's
    column matrix ``(C_in*kH*kW, N*H_out*W_out)``, or ``None`` when the batch was processed
    in chunks; pass it, unchanged, to this module's :func:`conv2d_backward`.
    """
    geometry = conv_geometry(x, weight, bias, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    batch, out_channels = x.shape[0], weight.shape[0]
    output = np.empty((batch, out_channels, geometry.positions), dtype=x.dtype)
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias

    def to_output(product, start, stop):
        columns_to_nchw(product, bias_values, output[start:stop])

    cols = conv_forward_columns(x, weight, geometry, groups, to_output)
    return output.reshape(batch, out_channels, geometry.out_h, geometry.out_w), cols


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """:func:`minicnn.functional.conv.conv2d`, fast; also accepts an unbatched ``(C, H, W)``."""
    if isinstance(x, np.ndarray) and x.ndim == 3:
        return conv2d_forward(x[None], weight, bias, stride, padding, dilation, groups)[0][0]
    return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


# ---------------------------------------------------------------------------- backward
def conv_backward_columns(x, weight, geometry: ConvGeometry, groups: int, cols, prologue,
                          input_grad: bool):
    """The backward's chunk loop, shared by the plain and the fused convolution.

    ``prologue(start, stop, grad_product, bias_partials)`` writes the gradient of the
    product for samples ``start:stop`` into ``grad_product (C_out, chunk*P)`` and their
    per-sample bias-gradient sums into ``bias_partials (chunk, C_out)``. Returns
    ``(grad_input or None, grad_weight, grad_bias)``.
    """
    batch, in_channels = x.shape[:2]
    out_channels = weight.shape[0]
    positions = geometry.positions
    chunk = batch if cols is not None else chunk_size(batch, geometry, in_channels, x.itemsize)
    grad_weight = np.zeros((out_channels, weight[0].size), dtype=x.dtype)
    grad_bias = np.zeros(out_channels, dtype=np.float64)
    grad_input = np.empty(x.shape, dtype=x.dtype) if input_grad else None
    bias_partials = np.empty((chunk, out_channels), dtype=np.float64)
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        if chunk != batch:
            cols = np.empty((weight[0].size * groups, (stop - start) * positions), x.dtype)
            _im2col(x[start:stop], geometry, cols)
        grad_product = np.empty((out_channels, (stop - start) * positions), dtype=x.dtype)
        prologue(start, stop, grad_product, bias_partials[: stop - start])
        grad_bias += bias_partials[: stop - start].sum(axis=0)
        accumulate_weight_grad(grad_product, cols, grad_weight, groups)
        if input_grad:
            # The weight gradient has read the columns: their buffer takes their gradient.
            columns_grad(grad_product, weight, groups, out=cols)
            _col2im(cols, geometry, grad_input[start:stop])
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

    def from_grad_output(start, stop, grad_product, bias_partials):
        nchw_to_columns(grad_flat[start:stop], grad_product, bias_partials)

    return conv_backward_columns(x, weight, geometry, groups, cols, from_grad_output,
                                 input_grad)
