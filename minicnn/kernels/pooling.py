"""Fast max and average pooling: one Numba loop nest per op, parallel over ``(N*C)`` planes.

The twin of :mod:`minicnn.functional.pooling`: same function names, arguments, results and
checks (the argument checks and the divisor rule are the reference's own functions). Where
the reference reduces ``kH*kW`` strided views of a padded copy, these kernels walk each
window's taps directly and skip the ones that fall into the padding, so no padded copy is
made. Each ``(n, c)`` plane is independent (windows never cross planes), which is what makes
the backward's scatter-add safe to run in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from minicnn.functional.pooling import (
    _avg_divisors,
    _check_grad_output,
    _check_input,
    check_divisor_override,
    pool2d_geometry,
)
from minicnn.kernels._jit import kernel

__all__ = [
    "avg_pool2d",
    "avg_pool2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
]


@kernel(parallel=True)
def max_pool_planes(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                    dilation_h, dilation_w, output, indices):
    """``output``/``indices (P, H_out, W_out)`` from ``x (P, H, W)``.

    Taps are scanned in row-major window order and a later tap replaces the running maximum
    only if it is strictly greater, so on ties the FIRST maximum wins (and gets the
    gradient), as in PyTorch; a NaN always takes over, so NaNs propagate. A window's first
    real tap starts the scan even if it is ``-inf``; a window of padding alone gives
    ``-inf`` and index ``-1`` (no gradient), as the reference documents.
    """
    planes, height, width = x.shape
    out_h, out_w = output.shape[1], output.shape[2]
    for plane in prange(planes):
        for oy in range(out_h):
            for ox in range(out_w):
                best = -np.inf
                best_index = -1
                for ky in range(kernel_h):
                    iy = oy * stride_h - pad_h + ky * dilation_h
                    if iy < 0 or iy >= height:
                        continue
                    for kx in range(kernel_w):
                        ix = ox * stride_w - pad_w + kx * dilation_w
                        if ix < 0 or ix >= width:
                            continue
                        value = x[plane, iy, ix]
                        if best_index < 0 or value > best or np.isnan(value):
                            best = value
                            best_index = iy * width + ix
                output[plane, oy, ox] = best
                indices[plane, oy, ox] = best_index


@kernel(parallel=True)
def max_pool_planes_backward(grad_output, indices, grad_input):
    """``grad_input (P, H*W)``: each output's gradient added onto its window's maximum."""
    planes, outputs = grad_output.shape
    for plane in prange(planes):
        for i in range(grad_input.shape[1]):
            grad_input[plane, i] = 0.0
        for o in range(outputs):
            index = indices[plane, o]
            if index >= 0:
                grad_input[plane, index] += grad_output[plane, o]


@kernel(parallel=True)
def avg_pool_planes(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, divisors, output):
    """``output (P, H_out, W_out)``: each window's sum over its real taps / ``divisors``."""
    planes, height, width = x.shape
    out_h, out_w = output.shape[1], output.shape[2]
    for plane in prange(planes):
        for oy in range(out_h):
            for ox in range(out_w):
                total = 0.0  # float64 accumulator: a float32 sum loses nothing
                for ky in range(kernel_h):
                    iy = oy * stride_h - pad_h + ky
                    if iy < 0 or iy >= height:
                        continue
                    for kx in range(kernel_w):
                        ix = ox * stride_w - pad_w + kx
                        if 0 <= ix < width:
                            total += x[plane, iy, ix]
                output[plane, oy, ox] = total / divisors[oy, ox]


@kernel(parallel=True)
def avg_pool_planes_backward(grad_output, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                             divisors, grad_input):
    """``grad_input (P, H, W)``: every real tap of a window gets ``grad / divisor``; taps of
    overlapping windows add up."""
    planes, height, width = grad_input.shape
    out_h, out_w = grad_output.shape[1], grad_output.shape[2]
    for plane in prange(planes):
        for iy in range(height):
            for ix in range(width):
                grad_input[plane, iy, ix] = 0.0
        for oy in range(out_h):
            for ox in range(out_w):
                share = grad_output[plane, oy, ox] / divisors[oy, ox]
                for ky in range(kernel_h):
                    iy = oy * stride_h - pad_h + ky
                    if iy < 0 or iy >= height:
                        continue
                    for kx in range(kernel_w):
                        ix = ox * stride_w - pad_w + kx
                        if 0 <= ix < width:
                            grad_input[plane, iy, ix] += share


def _planes(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` or ``(C, H, W)`` as a contiguous ``(P, H, W)`` stack of planes."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[-2], x.shape[-1])


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """:func:`minicnn.functional.pooling.max_pool2d`, fast; same arguments and results."""
    owner = "max_pool2d"
    _check_input(x, owner)
    geometry = pool2d_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode,
                               owner=owner)
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w), (dil_h, dil_w), out = geometry
    planes = _planes(x)
    output = np.empty((planes.shape[0], *out), dtype=x.dtype)
    indices = np.empty((planes.shape[0], *out), dtype=np.int64)
    max_pool_planes(planes, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
                    output, indices)
    shape = x.shape[:-2] + out
    output, indices = output.reshape(shape), indices.reshape(shape)
    return (output, indices) if return_indices else output


def max_pool2d_backward(grad_output, indices, input_shape):
    """:func:`minicnn.functional.pooling.max_pool2d_backward`, fast."""
    owner = "max_pool2d_backward"
    indices = np.asarray(indices)
    _check_grad_output(grad_output, indices.shape, owner)
    input_shape = tuple(input_shape)
    if len(input_shape) != indices.ndim or input_shape[:-2] != indices.shape[:-2]:
        raise ValueError(
            f"{owner}: input_shape {input_shape} does not fit indices of shape {indices.shape} "
            "(the leading (N, C) or (C,) dimensions must agree)"
        )
    planes = int(np.prod(input_shape[:-2]))
    grad_input = np.empty((planes, input_shape[-2] * input_shape[-1]), dtype=grad_output.dtype)
    # Sizes spelled out, not -1: an empty batch has no planes to infer them from.
    out_size = indices.shape[-2] * indices.shape[-1]
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    max_pool_planes_backward(np.ascontiguousarray(grad_output).reshape(planes, out_size),
                             indices.reshape(planes, out_size), grad_input)
    return grad_input.reshape(input_shape)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """:func:`minicnn.functional.pooling.avg_pool2d`, fast; same arguments and results."""
    owner = "avg_pool2d"
    _check_input(x, owner)
    check_divisor_override(divisor_override, owner)
    geometry = pool2d_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, owner=owner)
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w), _, out = geometry
    divisors = _avg_divisors(x.shape, geometry, count_include_pad, divisor_override, x.dtype)
    planes = _planes(x)
    output = np.empty((planes.shape[0], *out), dtype=x.dtype)
    avg_pool_planes(planes, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, divisors,
                    output)
    return output.reshape(x.shape[:-2] + out)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None):
    """:func:`minicnn.functional.pooling.avg_pool2d_backward`, fast."""
    owner = "avg_pool2d_backward"
    input_shape = tuple(input_shape)
    if len(input_shape) not in (3, 4):
        raise ValueError(
            f"{owner}: expected input_shape (C, H, W) or (N, C, H, W), got {input_shape}"
        )
    check_divisor_override(divisor_override, owner)
    geometry = pool2d_geometry(input_shape, kernel_size, stride, padding, 1, ceil_mode,
                               owner=owner)
    _check_grad_output(grad_output, input_shape[:-2] + geometry.output_size, owner)
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w), _, out = geometry
    divisors = _avg_divisors(input_shape, geometry, count_include_pad, divisor_override,
                             grad_output.dtype)
    grad_planes = np.ascontiguousarray(grad_output).reshape(-1, *out)
    grad_input = np.empty((grad_planes.shape[0], *input_shape[-2:]), dtype=grad_output.dtype)
    avg_pool_planes_backward(grad_planes, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                             divisors, grad_input)
    return grad_input.reshape(input_shape)
