"""Fast 2-D convolution: chunks of the batch, each through im2col, BLAS and its epilogue.

The twin of :mod:`minicnn.functional.conv` (same function names, arguments and results),
laid out for speed rather than for reading:

* The column matrix is ``cols (K, S*H_out*W_out)`` for a chunk of ``S`` samples, with
  ``K = C_in*kH*kW`` ordered ``(c, ky, kx)`` as the weight is, so the forward is the single
  product ``W.reshape(C_out, K) @ cols -> (C_out, S*H_out*W_out)``. For one kernel tap and
  one output row, im2col copies one contiguous run of ``W_out`` values (a vectorised copy).
* :func:`im2col_columns` reads the unpadded input and writes zeros where a window reaches
  into the padding, so no padded copy of the input is made; :func:`col2im_columns` likewise
  drops the gradient that lands on padding.
* **Small chunks that stay in cache.** The batch is cut into chunks whose column matrix
  fits in :data:`COLUMN_BUDGET_BYTES` (128 KiB), and each chunk goes through im2col, the
  product and the epilogue (bias + NCHW layout, or the fused ReLU + pooling of
  :mod:`minicnn.kernels.fused`) before the next starts, so the columns are written and read
  in cache instead of making round trips to memory. Measured on LeNet-5's first layer at
  batch 64, the same products took 4-5x longer on one batch-wide column matrix (5 MB).
  Smaller is better still, down to one sample: a product that small skips BLAS's packing
  (OpenBLAS's small-matrix kernels) and runs twice as fast, 120-130 GFLOP/s on one core
  against about 60 for the same 16-row product over three samples' columns, so LeNet's
  second layer ran 25-30% faster (forward 635 -> 456 us at batch 64, 2 threads) than with
  the 512 KiB chunks this module used before, and a 3->32-channel 3x3 layer on 32x32 as
  much; layers whose single sample exceeds the budget (64->64 channels on 16x16) are
  unchanged.
* **Threads.** Chunks are shared between :func:`minicnn.threads.get_num_threads` Python
  threads (:func:`minicnn.kernels.split.run_split`). Without groups, each thread makes ONE call
  into Numba (:func:`forward_part_to_nchw`, :func:`backward_part_from_nchw` and their fused
  twins) that takes chunk after chunk from a shared atomic counter (:func:`take_chunk`)
  and runs im2col, the product (``np.dot`` inside Numba: SciPy's single-threaded BLAS) and
  the epilogue without the GIL; grouped convolutions drive each chunk from Python
  (:func:`for_each_chunk`). BLAS runs single-threaded inside, so each core runs a whole
  chunk pipeline and no two thread pools compete for the cores. Driving every chunk from
  Python made three to five GIL hand-offs per chunk, and the second thread barely helped
  (LeNet-5 step at batch 64: 5.3 ms on one thread, 5.0-5.6 on two; now 3.6-3.8 on two).
* **No stored columns.** The backward rebuilds each chunk's columns (cheaper than reading a
  stored batch-wide copy back from memory) and writes the columns' gradient over them.
  Memory: a layer's peak is, per thread, one chunk's columns (at most
  :data:`COLUMN_BUDGET_BYTES`, or one sample's if larger) and product, plus the output,
  its gradient and the input gradient.
* **Determinism.** The chunks depend on the shapes only; each chunk's share of the
  weight and bias gradients is kept apart and the shares are added along a fixed binary
  tree over the chunk indices (:func:`add_to_chunk_tree`), never in order of completion,
  so a seed gives the same bits on every run and on any number of threads.
"""

from __future__ import annotations

import functools
import itertools
import math
import threading
from typing import NamedTuple

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401 - the BLAS of Numba's np.dot, see below
from numba import uint64

from minicnn.functional._shapes import conv_output_size
from minicnn.functional.conv import (
    _check_conv_operands,
    _positive_pair,
    check_kernel_fits,
    conv2d_padding_sides,
)
from minicnn.kernels._atomic import atomic_add
from minicnn.kernels._jit import helper, kernel
from minicnn.kernels.split import post_all, run_split
from minicnn.threads import blas_threads, forget_blas_libraries, get_num_threads

# Numba's np.dot (the products inside the pipeline kernels below) calls BLAS through SciPy's
# Cython bindings (scipy.linalg.cython_blas, imported above), i.e. SciPy's own OpenBLAS:
# loaded now, so that blas_threads pins it too.
forget_blas_libraries()

__all__ = [
    "COLUMN_BUDGET_BYTES",
    "SCRATCH_KEPT_BYTES",
    "SPLIT_WORK",
    "ChunkPlan",
    "ColumnKernels",
    "ColumnLayout",
    "ConvGeometry",
    "add_to_chunk_tree",
    "all_finite",
    "backward_part_from_nchw",
    "chunk_row_layout",
    "col2im_columns",
    "col2im_padded_rows",
    "column_kernels",
    "column_layout",
    "column_scratch_sizes",
    "columns_to_nchw",
    "conv2d",
    "conv2d_backward",
    "conv2d_forward",
    "conv_geometry",
    "finish_backward_chunk",
    "for_each_chunk",
    "forward_part_to_nchw",
    "im2col_columns",
    "im2col_padded_rows",
    "nchw_to_columns",
    "plan_chunks",
    "run_parts",
    "shape_arguments",
    "take_chunk",
]

COLUMN_BUDGET_BYTES = 128 * 2**10
"""Largest column matrix of one chunk (128 KiB: one LeNet-5 sample per chunk; see the module
docstring for why so small); a sample whose columns are larger makes a chunk of its own."""

SPLIT_WORK = 1_000_000
"""Convolutions of more multiply-adds than this share their chunks between threads;
smaller ones are not worth the hand-off to a second thread (tens of microseconds)."""


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
    """Check the operands as :func:`minicnn.functional.conv.conv2d` does; return the geometry.

    Remembered per call signature (:func:`_signature`: every type, shape, dtype and argument
    the checks read), so a training loop checks each layer's shapes once instead of every
    step: the checks cost 15-30 us of Python per call, as much as a small kernel.
    """
    signature = _signature(owner, x, weight, bias, stride, padding, dilation, groups)
    geometry = _GEOMETRIES.get(signature) if signature is not None else None
    if geometry is None:
        geometry = _checked_geometry(x, weight, bias, stride, padding, dilation, groups, owner)
        if signature is not None and len(_GEOMETRIES) < _GEOMETRIES_KEPT:
            _GEOMETRIES[signature] = geometry
    return geometry


_GEOMETRIES: dict = {}  # _signature -> ConvGeometry of calls that passed the checks
_GEOMETRIES_KEPT = 4096  # enough for any model; a program that makes more is not slowed


def _exact(value):
    """``value`` as a key that tells ``1``, ``1.0`` and ``True`` apart (they hash alike,
    but only the first is a valid stride)."""
    if type(value) is tuple:
        return tuple(_exact(item) for item in value)
    return type(value), value


def _signature(owner, x, weight, bias, stride, padding, dilation, groups):
    """Everything :func:`_checked_geometry` reads, as a hashable key; ``None`` when an
    operand is not an array or an argument is unhashable (then the checks run in full)."""
    try:
        arrays = tuple((type(array), array.shape, array.dtype) for array in (x, weight))
        bias_key = None if bias is None else (type(bias), bias.shape, bias.dtype)
        signature = (owner, arrays, bias_key, _exact(stride), _exact(padding),
                     _exact(dilation), _exact(groups))
        hash(signature)
    except (AttributeError, TypeError):
        return None
    return signature


def _checked_geometry(x, weight, bias, stride, padding, dilation, groups,
                      owner: str) -> ConvGeometry:
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


@kernel
def im2col_columns(x, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                   dilation_h, dilation_w, out_h, out_w, cols):
    """Fill ``cols (C*kH*kW, N*out_h*out_w)`` from ``x (N, C, H, W)``; zeros for padding.

    ``cols[(c*kH + ky)*kW + kx, (n*out_h + oy)*out_w + ox] =
    x[n, c, oy*sH + ky*dH - pad_top, ox*sW + kx*dW - pad_left]`` (0 outside ``x``).
    For a fixed tap and output row the entries form one run along ``ox``, read from one
    input row: the inner loop is a plain (vectorised) copy.
    """
    batch, channels, height, width = x.shape
    positions = out_h * out_w
    flat_x = x.reshape(-1)
    for plane in range(batch * channels):
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


@kernel
def col2im_columns(grad_cols, kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                   dilation_h, dilation_w, out_h, out_w, grad_x):
    """Adjoint of :func:`im2col_columns`: add every column entry back onto its input pixel.

    ``grad_x (N, C, H, W)`` is overwritten. Overlapping windows copied one pixel into several
    entries, so its gradient is the sum over them (hence the adds); entries that came from
    the padding are dropped.
    """
    batch, channels, height, width = grad_x.shape
    positions = out_h * out_w
    flat_grad_x = grad_x.reshape(-1)
    for plane in range(batch * channels):
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


@helper
def padded_plane(x, n, c, pad_top, pad_left, padded_w, plane):
    """``plane`` (1-D, at least ``H_p*W_p``) = ``x[n, c]`` zero-padded, rows ``padded_w``
    wide; the tail past the padded image is zeroed too (the row layout reads into it)."""
    height, width = x.shape[2], x.shape[3]
    zero_run(plane, 0, plane.size)
    for iy in range(height):
        copy_run(plane, (iy + pad_top) * padded_w + pad_left, x[n, c].reshape(-1), iy * width,
                 width, 1)


@kernel
def im2col_padded_rows(x, kernel_h, kernel_w, pad_top, pad_left, dilation_h, dilation_w,
                       out_h, padded_h, padded_w, cols):
    """Stride-1 im2col in the *padded-row* layout: ``cols (C*kH*kW, N*out_h*W_p)``.

    Output position ``(oy, ox)`` of sample ``n`` is column ``n*out_h*W_p + oy*W_p + ox``,
    with rows as wide as the padded input (``W_p``) instead of ``W_out``; the last
    ``W_p - W_out`` columns of each row are slack that wraps into the next row. Then for one
    tap the whole sample is ONE contiguous run of ``out_h*W_p`` values of the padded plane,
    starting at ``ky*dH*W_p + kx*dW``: long vectorised copies instead of ``out_h`` runs of
    ``W_out`` values (LeNet's second layer: 150 runs of 10 per sample become 25 runs of 140
    per channel). The product over the slack columns is ignored by the epilogues, and their
    gradient is zero, so they change no result as long as the input is finite (the caller
    checks: 0 * inf would be NaN).
    """
    batch, channels = x.shape[0], x.shape[1]
    run = out_h * padded_w
    plane = np.empty(padded_h * padded_w + (kernel_w - 1) * dilation_w, dtype=x.dtype)
    for n in range(batch):
        for c in range(channels):
            padded_plane(x, n, c, pad_top, pad_left, padded_w, plane)
            for ky in range(kernel_h):
                for kx in range(kernel_w):
                    copy_run(cols[(c * kernel_h + ky) * kernel_w + kx], n * run, plane,
                             ky * dilation_h * padded_w + kx * dilation_w, run, 1)


@kernel
def col2im_padded_rows(grad_cols, kernel_h, kernel_w, pad_top, pad_left, dilation_h,
                       dilation_w, out_h, padded_h, padded_w, grad_x):
    """Adjoint of :func:`im2col_padded_rows`: ``grad_x (N, C, H, W)`` is overwritten.

    Each tap's run is added onto a zeroed padded plane (overlapping windows add up), whose
    interior is then the input's gradient; what lands on padding or slack is dropped.
    """
    batch, channels, height, width = grad_x.shape
    run = out_h * padded_w
    plane = np.empty(padded_h * padded_w + (kernel_w - 1) * dilation_w, dtype=grad_x.dtype)
    for n in range(batch):
        for c in range(channels):
            zero_run(plane, 0, plane.size)
            for ky in range(kernel_h):
                for kx in range(kernel_w):
                    add_run(plane, ky * dilation_h * padded_w + kx * dilation_w,
                            grad_cols[(c * kernel_h + ky) * kernel_w + kx], n * run, run, 1)
            flat = grad_x[n, c].reshape(-1)
            for iy in range(height):
                copy_run(flat, iy * width, plane, (iy + pad_top) * padded_w + pad_left, width,
                         1)


@kernel
def max_exponent_bits(bits, exponent_mask):
    """``max(bits & exponent_mask)`` over the 1-D unsigned-integer view of a float array.

    A float is NaN or infinite exactly when all its exponent bits are set, so the array is
    finite when the result is below ``exponent_mask``. Written over integers, this loop is
    vectorised (a float comparison that stops early is not): a few microseconds per layer.
    """
    largest = bits.dtype.type(0)
    for i in range(bits.size):
        largest = max(largest, bits[i] & exponent_mask)
    return largest


def all_finite(values: np.ndarray) -> bool:
    """Whether no entry of the float32 or float64 array ``values`` is NaN or infinite."""
    flat = np.ascontiguousarray(values).reshape(-1)
    if flat.dtype == np.float32:
        mask = np.uint32(0x7F800000)
        return bool(max_exponent_bits(flat.view(np.uint32), mask) < mask)
    mask = np.uint64(0x7FF0000000000000)
    return bool(max_exponent_bits(flat.view(np.uint64), mask) < mask)


@kernel
def columns_to_nchw(product, bias, row_width, output):
    """``output[n, o, oy, ox] = product[o, n*P + oy*row_width + ox] + bias[o]``.

    ``product (C_out, N*P)`` with ``P = H_out*row_width`` (``row_width`` is ``W_out``, or
    ``W_p`` in the padded-row layout); ``bias (C_out,)`` is zeros for a layer without bias;
    ``output (N, C_out, H_out, W_out)``.
    """
    batch, channels, out_h, out_w = output.shape
    positions = out_h * row_width
    for task in range(batch * channels):
        n = task // channels
        o = task % channels
        shift = bias[o]
        for oy in range(out_h):
            copy_start = n * positions + oy * row_width
            for ox in range(out_w):
                output[n, o, oy, ox] = product[o, copy_start + ox] + shift


@kernel
def nchw_to_columns(grad_output, row_width, grad_product, bias_partials):
    """The reverse of :func:`columns_to_nchw` for the gradient, and per-sample bias sums.

    ``grad_product[o, n*P + oy*row_width + ox] = grad_output[n, o, oy, ox]``, zero in the
    slack columns of the padded-row layout. ``bias_partials (N, C_out)`` float64 receives
    ``sum grad_output[n, o]``; the bias gradient is their sum over ``n``. Summing in float64
    keeps a float32 bias gradient over ``N*H_out*W_out`` terms as accurate as PyTorch's.
    The sum runs down each column first (``column_sums[ox]``, independent lanes that LLVM
    vectorises), then across: one running total would chain every add on the last one,
    which made this pass 40% of a 3->32-channel 32x32 layer's backward.
    """
    batch, channels, out_h, out_w = grad_output.shape
    positions = out_h * row_width
    column_sums = np.empty(out_w, dtype=np.float64)
    for task in range(batch * channels):
        n = task // channels
        o = task % channels
        row = grad_product[o]
        zero_run(row, n * positions, positions)
        column_sums[:] = 0.0
        for oy in range(out_h):
            start = n * positions + oy * row_width
            for ox in range(out_w):
                value = grad_output[n, o, oy, ox]
                row[start + ox] = value
                column_sums[ox] += value
        total = 0.0
        for ox in range(out_w):
            total += column_sums[ox]
        bias_partials[n, o] = total


# ---------------------------------------------------------------------------- pipelines
# One call per thread runs that thread's whole share of a convolution's chunks: im2col, the
# BLAS product (``np.dot`` inside Numba, which calls BLAS through SciPy's Cython bindings)
# and the epilogue, all without the GIL. Driven chunk by chunk from Python instead, each
# chunk cost three to five kernel calls, each a GIL hand-off between the threads: measured
# on LeNet-5 at batch 64 with 2 free cores, the threads shared the chunks evenly but each
# chunk took twice as long as on one thread (median 61 us -> 120-130 us: the threads mostly
# took turns), and the step took 4.8-5.6 ms on 2 threads against 5.2-5.3 on one.
@helper
def take_chunk(next_chunk):
    """``next_chunk[0]++`` as one atomic step; returns the old value: the index of the chunk
    this thread runs next. Threads sharing ``next_chunk`` (int64, one element) each take
    every index once, so a thread that starts late or runs slower simply takes fewer."""
    return atomic_add(next_chunk, 0, 1)


@helper
def im2col_chunk(x, padded_rows, shape, cols):
    """:func:`im2col_padded_rows` or :func:`im2col_columns` of ``x`` into ``cols``.

    ``shape`` is :func:`shape_arguments`' tuple ``(kH, kW, sH, sW, pad_top, pad_left, dH,
    dW, out_h, out_w, padded_h, padded_w)``.
    """
    if padded_rows:
        im2col_padded_rows(x, shape[0], shape[1], shape[4], shape[5], shape[6], shape[7],
                           shape[8], shape[10], shape[11], cols)
    else:
        im2col_columns(x, shape[0], shape[1], shape[2], shape[3], shape[4], shape[5],
                       shape[6], shape[7], shape[8], shape[9], cols)


@helper
def col2im_chunk(grad_cols, padded_rows, shape, grad_x):
    """The adjoint of :func:`im2col_chunk`: ``grad_x`` is overwritten."""
    if padded_rows:
        col2im_padded_rows(grad_cols, shape[0], shape[1], shape[4], shape[5], shape[6],
                           shape[7], shape[8], shape[10], shape[11], grad_x)
    else:
        col2im_columns(grad_cols, shape[0], shape[1], shape[2], shape[3], shape[4], shape[5],
                       shape[6], shape[7], shape[8], shape[9], grad_x)


@helper
def chunk_row_layout(shape, padded_rows):
    """``(row_width, positions)`` of one sample's columns: rows as wide as the padded input
    (``shape[11]``) or as the output (``shape[9]``), times ``shape[8]`` output rows."""
    row_width = shape[11] if padded_rows else shape[9]
    return row_width, shape[8] * row_width


@helper
def finish_backward_chunk(cols, grad_product, grad_product_t, weight_rows, partial, input_grad,
                          padded_rows, shape, grad_input):
    """A backward chunk once its ``grad_product`` is known: the weight-gradient share
    ``partial = cols @ grad_product.T`` and, if ``input_grad``, the columns' gradient
    (written over ``cols``) col2im'd into ``grad_input``.

    ``grad_product_t`` is ``grad_product.T`` as a C-contiguous copy, or an empty array when
    the prologue wrote none. With it the weight-gradient product runs BLAS's no-transpose
    kernel, which is much faster at some shapes: LeNet-5's second layer per sample, 5.5 us
    against 8.8 us for ``cols @ grad_product.T`` (OpenBLAS's small-matrix kernels).
    """
    if grad_product_t.shape[0] > 0:
        np.dot(cols, grad_product_t, partial)
    else:
        np.dot(cols, grad_product.T, partial)
    if input_grad:
        np.dot(weight_rows.T, grad_product, cols)
        col2im_chunk(cols, padded_rows, shape, grad_input)


@helper
def add_to_chunk_tree(index, count, start, stop, partials, bias_partials, bias_sums, arrivals):
    """Fold chunk ``index``'s gradient shares into the others', as a fixed binary tree.

    ``partials[index, 0]`` holds the chunk's weight-gradient share; its bias share is the sum
    of ``bias_partials[start:stop]`` (one row per sample, in order), written to
    ``bias_sums[index]``. Then, level by level, chunk spans pair up (``[0,1], [2,3], ...``,
    then pairs of pairs): the *second* of a pair to finish (an atomic count in
    ``arrivals``, one slot per pair and level, zeroed by the caller) adds the right span's
    sums into the left's, and carries on up; the first stops there. Chunk 0's slots end up
    holding the totals. The tree depends on ``count`` only, so the sums are the same bits
    on any number of threads and on every run. The adds run on both threads while the
    chunks are being computed, instead of one pass over all the shares by the calling
    thread afterwards: in a LeNet-5 step (64 chunks of 2,400 shares for the second layer),
    the time from the last chunk to the gradients fell from 112 to 46 us.
    """
    channels = bias_sums.shape[1]
    for c in range(channels):
        bias_sums[index, c] = 0.0
    for n in range(start, stop):
        for c in range(channels):
            bias_sums[index, c] += bias_partials[n, c]
    node, span, level = index, 1, 0
    while span < count:
        pair = node // 2
        left = 2 * pair * span
        right = left + span
        if right < count:
            slot = level * count + pair
            if atomic_add(arrivals, slot, 1) == 0:
                return  # the sibling is still running: it will carry both up
            weights = partials[left, 0].reshape(-1)
            other = partials[right, 0].reshape(-1)
            for i in range(uint64(weights.size)):
                weights[i] += other[i]
            for c in range(channels):
                bias_sums[left, c] += bias_sums[right, c]
        node, span, level = pair, 2 * span, level + 1


@helper
def chunk_views(batch, count, index, positions, cols_buffer, height, product_buffer, channels):
    """``(start, stop, cols (height, width), product (channels, width))`` of chunk ``index``
    of ``count`` (as :meth:`ChunkPlan.bounds`), ``width = (stop - start) * positions``, cut
    from the flat scratch buffers."""
    start = index * batch // count
    stop = (index + 1) * batch // count
    width = (stop - start) * positions
    cols = cols_buffer[: height * width].reshape(height, width)
    product = product_buffer[: channels * width].reshape(channels, width)
    return start, stop, cols, product


@kernel
def forward_part_to_nchw(x, weight_rows, padded_rows, shape, count, next_chunk, helper_words,
                         cols_buffer, product_buffer, bias, output):
    """The forward's chunks this thread takes (:func:`take_chunk`): im2col,
    ``weight_rows @ cols``, then :func:`columns_to_nchw` into ``output`` (groups == 1).
    The caller's part first starts the helpers' (``helper_words``, see :func:`run_parts`)."""
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
        columns_to_nchw(product, bias, row_width, output[start:stop])
        index = take_chunk(next_chunk)


@kernel
def backward_part_from_nchw(x, weight_rows, padded_rows, shape, count, next_chunk,
                            helper_words, cols_buffer, grad_product_buffer, grad_output,
                            bias_partials, partials, bias_sums, arrivals, input_grad,
                            grad_input):
    """The backward's chunks this thread takes (groups == 1): rebuild the columns,
    :func:`nchw_to_columns` the output gradient, the chunk's weight-gradient share
    ``partials[index, 0] = cols @ grad_product.T`` (folded into the others' by
    :func:`add_to_chunk_tree`) and, if ``input_grad``, the columns' gradient (written over
    them) col2im'd into ``grad_input``. The caller's part first starts the helpers'
    (``helper_words``, see :func:`run_parts`)."""
    post_all(helper_words)
    batch = x.shape[0]
    out_channels, height = weight_rows.shape
    row_width, positions = chunk_row_layout(shape, padded_rows)
    index = take_chunk(next_chunk)
    while index < count:
        start, stop, cols, grad_product = chunk_views(batch, count, index, positions,
                                                      cols_buffer, height,
                                                      grad_product_buffer, out_channels)
        im2col_chunk(x[start:stop], padded_rows, shape, cols)
        nchw_to_columns(grad_output[start:stop], row_width, grad_product,
                        bias_partials[start:stop])
        finish_backward_chunk(cols, grad_product, grad_product[:0], weight_rows,
                              partials[index, 0], input_grad, padded_rows, shape,
                              grad_input[start:stop])
        add_to_chunk_tree(index, count, start, stop, partials, bias_partials, bias_sums,
                          arrivals)
        index = take_chunk(next_chunk)


# ---------------------------------------------------------------------------- chunks
class ColumnLayout(NamedTuple):
    """Where output position ``(oy, ox)`` of a sample sits in its columns: ``oy*row_width +
    ox``. ``padded_rows``: rows as wide as the padded input (stride 1 only; see
    :func:`im2col_padded_rows`), else ``row_width == W_out``, the plain layout."""

    padded_rows: bool
    row_width: int
    padded_h: int
    padded_w: int

    def positions(self, geometry: ConvGeometry) -> int:
        """Columns per sample: ``H_out * row_width``."""
        return geometry.out_h * self.row_width


def column_layout(x, weight, geometry: ConvGeometry) -> ColumnLayout:
    """The padded-row layout for a stride-1 convolution of finite ``x`` and ``weight``, else
    the plain one (a NaN or infinity would leak from the slack columns through 0 * inf)."""
    top, bottom, left, right = geometry.sides
    padded_h, padded_w = x.shape[2] + top + bottom, x.shape[3] + left + right
    if geometry.stride == (1, 1) and all_finite(x) and all_finite(weight):
        return ColumnLayout(True, padded_w, padded_h, padded_w)
    return ColumnLayout(False, geometry.out_w, padded_h, padded_w)


class ColumnKernels(NamedTuple):
    """The im2col/col2im pair of one layout and their shape arguments, looked up once per
    layer call: ``im2col(x, *arguments, cols)``, ``col2im(grad_cols, *arguments, grad_x)``."""

    im2col: object
    col2im: object
    arguments: tuple


def column_kernels(geometry: ConvGeometry, layout: ColumnLayout) -> ColumnKernels:
    """The im2col/col2im kernels of ``layout`` with ``geometry``'s arguments."""
    (kernel_h, kernel_w), (stride_h, stride_w) = geometry.kernel, geometry.stride
    pad_top, pad_left = geometry.sides[0], geometry.sides[2]
    dilation_h, dilation_w = geometry.dilation
    if layout.padded_rows:
        return ColumnKernels(im2col_padded_rows, col2im_padded_rows,
                             (kernel_h, kernel_w, pad_top, pad_left, dilation_h, dilation_w,
                              geometry.out_h, layout.padded_h, layout.padded_w))
    return ColumnKernels(im2col_columns, col2im_columns,
                         (kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left,
                          dilation_h, dilation_w, geometry.out_h, geometry.out_w))


def _group_slices(groups: int, out_channels: int, group_k: int):
    """``(output channels, column rows)`` of each group: ``K`` is ordered ``(c, ky, kx)``,
    so group ``g``'s input channels are rows ``[g*K/G, (g+1)*K/G)`` of the columns."""
    group_out = out_channels // groups
    return [(slice(g * group_out, (g + 1) * group_out), slice(g * group_k, (g + 1) * group_k))
            for g in range(groups)]


class ChunkPlan(NamedTuple):
    """How a batch is cut into chunks of samples and shared between threads."""

    batch: int
    count: int  # chunks; chunk ``i`` holds samples ``i*batch//count`` to ``(i+1)*batch//count``
    parts: int  # threads that share the chunks

    @property
    def chunk(self) -> int:
        """The most samples in one chunk (what a thread's scratch buffers must hold)."""
        return -(-self.batch // self.count) if self.count else 0

    def bounds(self, index: int) -> tuple[int, int]:
        """``(start, stop)``: the samples of chunk ``index``."""
        return index * self.batch // self.count, (index + 1) * self.batch // self.count


def plan_chunks(batch: int, positions: int, geometry: ConvGeometry, in_channels: int,
                out_channels: int, itemsize: int) -> ChunkPlan:
    """Chunks whose column matrix (``positions`` columns per sample) fits
    :data:`COLUMN_BUDGET_BYTES`; threads for them.

    The chunks are as even as the batch allows, and their count is even (when there are
    several and samples enough), so two threads get equal shares: a layer whose budget holds
    5 samples makes 14 chunks of 4-5 at batch 64 instead of 12 of 5 and one of 4, which left
    one thread a chunk behind. The plan depends on the shapes only, never on the thread
    count, so the per-chunk weight-gradient partials, summed along a tree fixed by the chunk
    count, give the same bits on any number of threads. A convolution of fewer than
    :data:`SPLIT_WORK` multiply-adds runs on the calling thread alone. Plans are remembered
    per shape and thread count.
    """
    # The remembered plans are keyed on plain integers: hashing the geometry's nested
    # tuples on every call cost more than the plan itself.
    return _plan_chunks(batch, positions, geometry.kernel[0] * geometry.kernel[1],
                        in_channels, out_channels, itemsize, get_num_threads(),
                        COLUMN_BUDGET_BYTES, SPLIT_WORK)


@functools.lru_cache(maxsize=1024)
def _plan_chunks(batch: int, positions: int, kernel_area: int, in_channels: int,
                 out_channels: int, itemsize: int, threads: int, budget: int,
                 split_work: int) -> ChunkPlan:
    row_bytes = in_channels * kernel_area * itemsize
    per_sample = max(positions * row_bytes, 1)
    chunk = max(1, min(batch, budget // per_sample))
    count = -(-batch // chunk)
    if count > 1 and count % 2 and count < batch:
        count += 1
    work = batch * positions * (row_bytes // itemsize) * out_channels
    parts = max(1, min(threads, count)) if work > split_work else 1
    return ChunkPlan(batch, count, parts)


_scratch = threading.local()  # each thread's reusable chunk buffers: {dtype: [array, ...]}

SCRATCH_KEPT_BYTES = 8 * 2**20
"""Scratch buffers up to this size are kept for the next call; larger ones (a single sample
whose columns exceed it, e.g. a big image) are allocated for the call and freed after."""


def scratch_buffers(sizes: tuple[int, ...], dtype, pool: str = "chunk") -> list[np.ndarray]:
    """This thread's 1-D scratch arrays of at least ``sizes`` elements, reused across calls.

    A fresh half-megabyte ``np.empty`` per call is memory the system maps and zeroes page by
    page on first touch (and unmaps when freed); reusing the buffers made LeNet's second
    convolution's backward 2-3x faster. A thread runs one chunk at a time, so its ``"chunk"``
    buffers are never in use twice; a convolution's calling thread also keeps the backward's
    per-chunk gradient shares in its ``"weight partials"``, ``"bias partials"`` and ``"bias
    sums"`` pools. Buffers grow to the largest size seen, up to :data:`SCRATCH_KEPT_BYTES`
    each.
    """
    pools = getattr(_scratch, "pools", None)
    if pools is None:
        pools = _scratch.pools = {}
    dtype = np.dtype(dtype)
    buffers = pools.setdefault((pool, dtype), [])
    arrays = []
    for index, size in enumerate(sizes):
        if index < len(buffers) and buffers[index].size >= size:
            arrays.append(buffers[index][:size])
            continue
        array = np.empty(size, dtype=dtype)
        if size * dtype.itemsize <= SCRATCH_KEPT_BYTES:
            if index < len(buffers):
                buffers[index] = array
            elif index == len(buffers):
                buffers.append(array)
        arrays.append(array)
    return arrays


def for_each_chunk(plan: ChunkPlan, task, scratch_sizes: tuple[int, ...], dtype) -> None:
    """``task(index, start, stop, *scratch)`` for every chunk, on ``plan.parts`` threads.

    Each thread takes scratch buffers of ``scratch_sizes`` elements per sample
    (:func:`scratch_buffers`; the task cuts contiguous views of each chunk's size), then
    takes the next chunk not yet taken until none is left: on a shared machine a thread
    that gets less CPU time simply runs fewer chunks, instead of holding the others up at
    the end. Tasks must write only to their own chunk's samples (and results must not depend
    on which thread ran a chunk). BLAS runs single-threaded inside (the threads here are the
    parallelism).
    """
    next_chunk = itertools.count().__next__  # atomic in CPython: each index taken once
    sizes = tuple(size * plan.chunk for size in scratch_sizes)

    def run_part(part: int) -> None:
        scratch = scratch_buffers(sizes, dtype)
        index = next_chunk()
        while index < plan.count:
            start, stop = plan.bounds(index)
            task(index, start, stop, *scratch)
            index = next_chunk()

    with blas_threads():
        run_split(run_part, plan.parts)


@functools.lru_cache(maxsize=1024)
def shape_arguments(geometry: ConvGeometry, layout: ColumnLayout) -> tuple[int, ...]:
    """The ``shape`` tuple of :func:`im2col_chunk`: ``(kH, kW, sH, sW, pad_top, pad_left,
    dH, dW, out_h, out_w, padded_h, padded_w)``."""
    (kernel_h, kernel_w), (stride_h, stride_w) = geometry.kernel, geometry.stride
    values = (kernel_h, kernel_w, stride_h, stride_w, geometry.sides[0], geometry.sides[2],
              *geometry.dilation, geometry.out_h, geometry.out_w, layout.padded_h,
              layout.padded_w)
    return tuple(int(value) for value in values)


def run_parts(plan: ChunkPlan, part_kernel, leading: tuple, trailing: tuple,
              scratch_sizes: tuple[int, ...], dtype) -> None:
    """``part_kernel(*leading, count, next_chunk, helper_words, *scratch, *trailing)`` on
    ``plan.parts`` threads, one GIL-free call each; the threads take chunks through the
    shared counter ``next_chunk`` (:func:`take_chunk`). The calling thread's call gets the
    helpers' ``helper_words`` and starts their calls from inside Numba
    (:func:`minicnn.kernels.split.post_all`, so they find the GIL free); theirs get an empty
    array. Scratch as in :func:`for_each_chunk`; BLAS runs single-threaded inside."""
    sizes = tuple(size * plan.chunk for size in scratch_sizes)
    next_chunk = np.zeros(1, dtype=np.int64)

    def run_part(part: int, helper_words: np.ndarray) -> None:
        scratch = scratch_buffers(sizes, dtype)
        part_kernel(*leading, plan.count, next_chunk, helper_words, *scratch, *trailing)

    with blas_threads():
        run_split(run_part, plan.parts, post_from_task=True)


def conv_forward_chunks(x, weight, geometry: ConvGeometry, groups: int,
                        layout: ColumnLayout, epilogue) -> None:
    """im2col and the product chunk by chunk, each chunk's product handed to
    ``epilogue(product, start, stop)`` (``(C_out, chunk*P)`` for samples ``start:stop``, in
    ``layout``: ``P = H_out * layout.row_width``) while it is still in cache."""
    batch, in_channels = x.shape[:2]
    out_channels = weight.shape[0]
    weight_rows = weight.reshape(out_channels, -1)
    height = weight_rows.shape[1] * groups
    positions = layout.positions(geometry)
    slices = _group_slices(groups, out_channels, weight_rows.shape[1])
    plan = plan_chunks(batch, positions, geometry, in_channels, out_channels, x.itemsize)
    im2col, _, arguments = column_kernels(geometry, layout)

    def task(index, start, stop, cols_buffer, product_buffer):
        width = (stop - start) * positions
        cols = cols_buffer[: height * width].reshape(height, width)
        product = product_buffer[: out_channels * width].reshape(out_channels, width)
        im2col(x[start:stop], *arguments, cols)
        if groups == 1:
            np.matmul(weight_rows, cols, out=product)
        else:
            for outs, rows in slices:
                np.matmul(weight_rows[outs], cols[rows], out=product[outs])
        epilogue(product, start, stop)

    for_each_chunk(plan, task, (height * positions, out_channels * positions), x.dtype)


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """:func:`minicnn.functional.conv.conv2d_forward`, fast: returns ``(output, None)``.

    ``x (N, C_in, H, W)`` -> ``output (N, C_out, H_out, W_out)``. The second result, the
    reference's column matrix, is ``None``: these kernels keep no columns (the backward
    rebuilds each chunk's, which is cheaper than reading a stored copy back from memory).
    """
    geometry = conv_geometry(x, weight, bias, stride, padding, dilation, groups)
    x = np.ascontiguousarray(x)
    batch, out_channels = x.shape[0], weight.shape[0]
    output = np.empty((batch, out_channels, geometry.out_h, geometry.out_w), dtype=x.dtype)
    bias_values = np.zeros(out_channels, x.dtype) if bias is None else bias
    layout = column_layout(x, weight, geometry)

    if groups == 1:
        weight_rows = np.ascontiguousarray(weight.reshape(out_channels, -1))
        plan = plan_chunks(batch, layout.positions(geometry), geometry, x.shape[1],
                           out_channels, x.itemsize)
        run_parts(plan, forward_part_to_nchw,
                  (x, weight_rows, layout.padded_rows, shape_arguments(geometry, layout)),
                  (bias_values, output),
                  column_scratch_sizes(weight_rows.shape[1], out_channels,
                                       layout.positions(geometry)), x.dtype)
        return output, None

    def to_output(product, start, stop):
        columns_to_nchw(product, bias_values, layout.row_width, output[start:stop])

    conv_forward_chunks(x, weight, geometry, groups, layout, to_output)
    return output, None


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """:func:`minicnn.functional.conv.conv2d`, fast; also accepts an unbatched ``(C, H, W)``."""
    if isinstance(x, np.ndarray) and x.ndim == 3:
        return conv2d_forward(x[None], weight, bias, stride, padding, dilation, groups)[0][0]
    return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


# ---------------------------------------------------------------------------- backward
def column_scratch_sizes(height: int, out_channels: int, positions: int) -> tuple[int, int]:
    """Per-sample scratch elements of a chunk: its columns and its product (or gradient)."""
    return height * positions, out_channels * positions


def conv_backward_chunks(x, weight, geometry: ConvGeometry, groups: int,
                         layout: ColumnLayout, prologue, input_grad: bool,
                         part_kernel=None, prologue_arrays: tuple = (),
                         extra_scratch: tuple[int, ...] = ()):
    """The backward's chunk loop, shared by the plain and the fused convolution.

    With ``groups == 1`` and a ``part_kernel`` (:func:`backward_part_from_nchw` or its fused
    twin), each thread runs its chunks in one GIL-free call,
    ``part_kernel(x, weight_rows, padded_rows, shape, count, next_chunk, cols, grad_product,
    *prologue_arrays, bias_partials, partials, input_grad, grad_input)``, whose prologue
    reads ``prologue_arrays`` (and which takes one more scratch buffer after ``grad_product``
    for each per-sample size in ``extra_scratch``); otherwise each chunk is driven from
    Python as follows.

    ``prologue(start, stop, grad_product, bias_partials)`` writes the gradient of the
    product for samples ``start:stop`` into ``grad_product (C_out, chunk*P)`` (in ``layout``,
    zero in its slack columns) and their
    per-sample bias-gradient sums into ``bias_partials (chunk, C_out)``. Each chunk rebuilds
    its columns, takes its share of the weight gradient (kept apart, then summed in chunk
    order; the part kernels add theirs along :func:`add_to_chunk_tree`; either way the
    result does not depend on which thread ran which chunk) and, if
    ``input_grad``, writes the columns' gradient over the columns and col2im's it. Returns
    ``(grad_input or None, grad_weight, grad_bias)``.
    """
    batch, in_channels = x.shape[:2]
    out_channels = weight.shape[0]
    weight_rows = weight.reshape(out_channels, -1)
    group_k = weight_rows.shape[1]
    height = group_k * groups
    positions = layout.positions(geometry)
    slices = _group_slices(groups, out_channels, group_k)
    plan = plan_chunks(batch, positions, geometry, in_channels, out_channels, x.itemsize)
    # Per chunk and group, cols[rows] @ grad_product[outs].T: (K/G, C_out/G), the transposed
    # weight gradient, which single-threaded BLAS computes faster than its transpose here.
    partials_shape = (plan.count, groups, group_k, out_channels // groups)
    partials = scratch_buffers((math.prod(partials_shape),), x.dtype,
                               "weight partials")[0].reshape(partials_shape)
    bias_partials = scratch_buffers((batch * out_channels,), np.float64,
                                    "bias partials")[0].reshape(batch, out_channels)
    grad_input = np.empty(x.shape, dtype=x.dtype) if input_grad else None
    im2col, col2im, arguments = column_kernels(geometry, layout)
    scratch_sizes = column_scratch_sizes(height, out_channels, positions)
    if groups == 1 and part_kernel is not None:
        no_grad_input = np.empty((0,) * x.ndim, dtype=x.dtype)  # the kernel's unused output
        bias_sums = scratch_buffers((plan.count * out_channels,), np.float64,
                                    "bias sums")[0].reshape(plan.count, out_channels)
        arrivals = np.zeros(plan.count * max(1, plan.count.bit_length()), dtype=np.int64)
        run_parts(plan, part_kernel,
                  (x, np.ascontiguousarray(weight_rows), layout.padded_rows,
                   shape_arguments(geometry, layout)),
                  (*prologue_arrays, bias_partials, partials, bias_sums, arrivals,
                   input_grad, no_grad_input if grad_input is None else grad_input),
                  scratch_sizes + tuple(extra_scratch), x.dtype)
        if plan.count == 0:  # an empty batch: no gradient
            return grad_input, np.zeros_like(weight), np.zeros(out_channels, x.dtype)
        return (grad_input, np.ascontiguousarray(partials[0, 0].T).reshape(weight.shape),
                bias_sums[0].astype(x.dtype))

    def task(index, start, stop, cols_buffer, grad_product_buffer):
        width = (stop - start) * positions
        cols = cols_buffer[: height * width].reshape(height, width)
        grad_product = grad_product_buffer[: out_channels * width].reshape(out_channels, width)
        im2col(x[start:stop], *arguments, cols)
        prologue(start, stop, grad_product, bias_partials[start:stop])
        if groups == 1:
            np.matmul(cols, grad_product.T, out=partials[index, 0])
        else:
            for group, (outs, rows) in enumerate(slices):
                np.matmul(cols[rows], grad_product[outs].T, out=partials[index, group])
        if input_grad:
            # The weight gradient has read the columns: their buffer takes their gradient.
            if groups == 1:
                np.matmul(weight_rows.T, grad_product, out=cols)
            else:
                for outs, rows in slices:
                    np.matmul(weight_rows[outs].T, grad_product[outs], out=cols[rows])
            col2im(cols, *arguments, grad_input[start:stop])

    for_each_chunk(plan, task, scratch_sizes, x.dtype)
    return _summed_gradients(x, weight, groups, grad_input, partials, bias_partials)


def _summed_gradients(x, weight, groups: int, grad_input, partials, bias_partials):
    """``(grad_input, grad_weight, grad_bias)`` from the per-chunk weight-gradient shares
    ``partials (chunks, groups, K/G, C_out/G)`` and the per-sample ``bias_partials``."""
    out_channels = weight.shape[0]
    grad_weight = np.empty((out_channels, partials.shape[2]), dtype=x.dtype)
    summed = partials.sum(axis=0)  # over chunks, in chunk order: the same bits every run
    for group, (outs, _) in enumerate(_group_slices(groups, out_channels, partials.shape[2])):
        grad_weight[outs] = summed[group].T
    grad_bias = bias_partials.sum(axis=0).astype(x.dtype)
    return grad_input, grad_weight.reshape(weight.shape), grad_bias


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups: int = 1,
                    cols=None, input_grad: bool = True):
    """:func:`minicnn.functional.conv.conv2d_backward`, fast.

    ``cols`` is what this module's :func:`conv2d_forward` returned, always ``None`` (the
    columns are rebuilt chunk by chunk; the argument keeps the reference's signature). With
    ``input_grad=False`` the input gradient (the col2im half of the work) is skipped and
    ``None`` returned in its place, as for a network's first layer.
    Returns ``(grad_input, grad_weight, grad_bias)``.
    """
    if cols is not None:
        raise ValueError("conv2d_backward: the kernels keep no column matrix; pass cols=None "
                         "(what minicnn.kernels.conv.conv2d_forward returned), not the "
                         "reference's columns")
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
    grad_output = np.ascontiguousarray(grad_output)
    layout = column_layout(x, weight, geometry)

    def from_grad_output(start, stop, grad_product, bias_partials):
        nchw_to_columns(grad_output[start:stop], layout.row_width, grad_product, bias_partials)

    return conv_backward_chunks(x, weight, geometry, groups, layout, from_grad_output,
                                input_grad, backward_part_from_nchw, (grad_output,))
