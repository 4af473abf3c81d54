"""A pooling unit: its window, and (max) which input won or (average) the divisor.

Max pooling keeps the largest value of each window; in the backward the whole gradient of the
output goes to that one winner (ties: the first in row-major order wins, as in PyTorch), so an
input's gradient is the sum over the windows it *won*. Average pooling divides each window's
sum by its size, so every input of a window gets an equal share of its gradient.
"""

from __future__ import annotations

import numpy as np

from minicnn.explore.trace import Call
from minicnn.explore.units._common import number, sum_of
from minicnn.functional.pooling import _avg_divisors, max_pool2d, pool2d_geometry
from minicnn.nn.pooling import AvgPool2d, MaxPool2d

__all__ = ["avg_pool_forward", "avg_pool_input_gradient", "max_pool_forward",
           "max_pool_input_gradient"]


def _geometry(module, input_shape):
    dilation = getattr(module, "dilation", 1)
    return pool2d_geometry(input_shape, module.kernel_size, module.stride, module.padding,
                           dilation, module.ceil_mode, owner=type(module).__name__)


def _window(geometry, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    """Input rows and columns of window ``(row, col)`` (outside the input: padding)."""
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w), (dil_h, dil_w), _ = geometry
    rows = row * stride_h - pad_h + np.arange(kernel_h) * dil_h
    cols = col * stride_w - pad_w + np.arange(kernel_w) * dil_w
    return rows, cols


def _window_values(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> list:
    """The window's values, None where it lies on padding."""
    height, width = plane.shape
    return [[number(plane[r, c]) if 0 <= r < height and 0 <= c < width else None
             for c in cols] for r in rows]


def _windows_holding(geometry, row: int, col: int) -> list[tuple[int, int]]:
    """Every output position whose window reads input ``(row, col)``."""
    (kernel_h, kernel_w), (stride_h, stride_w), (pad_h, pad_w), (dil_h, dil_w), out = geometry
    found = []
    for out_row in range(out[0]):
        if (row + pad_h - out_row * stride_h) not in range(0, kernel_h * dil_h, dil_h):
            continue
        for out_col in range(out[1]):
            if (col + pad_w - out_col * stride_w) in range(0, kernel_w * dil_w, dil_w):
                found.append((out_row, out_col))
    return found


def _winners(module: MaxPool2d, call: Call) -> np.ndarray:
    """minicnn's own choice of each window's maximum: flat ``r*W + c`` indices, per channel."""
    _, indices = max_pool2d(call.input[0], module.kernel_size, module.stride, module.padding,
                            module.dilation, module.ceil_mode, return_indices=True)
    return indices


def max_pool_forward(module: MaxPool2d, call: Call, index: tuple[int, ...]) -> dict:
    channel, row, col = index
    geometry = _geometry(module, call.input.shape)
    rows, cols = _window(geometry, row, col)
    width = call.input.shape[-1]
    winner = int(_winners(module, call)[channel, row, col])
    plane = call.input[0, channel]
    return {
        "reads": {"channels": [channel], "rows": rows.tolist(), "cols": cols.tolist()},
        "patch": [_window_values(plane, rows, cols)],
        "winner": [winner // width, winner % width] if winner >= 0 else None,
        "value": number(call.output[(0, *index)]),
        "formula": "max(window); ties go to the first in row-major order",
    }


def max_pool_input_gradient(module: MaxPool2d, call: Call, index: tuple[int, ...]) -> dict:
    """The gradient of every window the input took part in, counted only where it won."""
    channel, row, col = index
    geometry = _geometry(module, call.input.shape)
    winners = _winners(module, call)[channel]
    flat = row * call.input.shape[-1] + col
    windows, won = [], []
    for out_row, out_col in _windows_holding(geometry, row, col):
        grad = call.grad_output[0, channel, out_row, out_col]
        took = bool(winners[out_row, out_col] == flat)
        windows.append({"row": out_row, "col": out_col, "grad": number(grad), "won": took})
        if took:
            won.append(grad)
    value = None if call.grad_input is None else number(call.grad_input[(0, *index)])
    return {
        "channels": [channel],
        "windows": windows,
        "count": len(won),
        "sum": sum_of(won),
        "value": value,
        "formula": "sum of dL/dy over the windows this input won (0 where it lost)",
    }


def _divisors(module: AvgPool2d, call: Call, geometry) -> np.ndarray:
    return _avg_divisors(call.input.shape, geometry, module.count_include_pad,
                         module.divisor_override, np.float64)


def avg_pool_forward(module: AvgPool2d, call: Call, index: tuple[int, ...]) -> dict:
    channel, row, col = index
    geometry = _geometry(module, call.input.shape)
    rows, cols = _window(geometry, row, col)
    patch = _window_values(call.input[0, channel], rows, cols)
    total = sum_of([value for line in patch for value in line if value is not None])
    divisor = float(_divisors(module, call, geometry)[row, col])
    value = number(call.output[(0, *index)])
    return {
        "reads": {"channels": [channel], "rows": rows.tolist(), "cols": cols.tolist()},
        "patch": [patch],
        "sum": total,
        "divisor": divisor,
        "total": total / divisor,
        "value": value,
        "difference": None if value is None else total / divisor - value,
        "formula": "sum(window) / divisor",
    }


def avg_pool_input_gradient(module: AvgPool2d, call: Call, index: tuple[int, ...]) -> dict:
    channel, row, col = index
    geometry = _geometry(module, call.input.shape)
    divisors = _divisors(module, call, geometry)
    windows, shares = [], []
    for out_row, out_col in _windows_holding(geometry, row, col):
        grad = call.grad_output[0, channel, out_row, out_col]
        share = float(grad) / divisors[out_row, out_col]
        windows.append({"row": out_row, "col": out_col, "grad": number(grad),
                        "divisor": float(divisors[out_row, out_col]), "share": number(share)})
        shares.append(share)
    value = None if call.grad_input is None else number(call.grad_input[(0, *index)])
    return {
        "channels": [channel],
        "windows": windows,
        "count": len(shares),
        "sum": sum_of(shares),
        "value": value,
        "formula": "sum over windows of dL/dy / divisor",
    }
