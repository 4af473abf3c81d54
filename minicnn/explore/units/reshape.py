"""A Flatten unit: the same number, moved. Output ``k`` is input position ``unravel(k)`` of
the row-major order, forward and backward alike: no arithmetic, only bookkeeping."""

from __future__ import annotations

import numpy as np

from minicnn.explore.trace import Call
from minicnn.explore.units._common import number, reads_at

__all__ = ["flatten_forward", "flatten_input_gradient"]


def _moved(index: tuple[int, ...], from_shape, to_shape) -> list[int]:
    flat = np.ravel_multi_index(index, from_shape)
    return [int(i) for i in np.unravel_index(flat, to_shape)]


def flatten_forward(module, call: Call, index: tuple[int, ...]) -> dict:
    source = _moved(index, call.output.shape[1:], call.input.shape[1:])
    return {"source": source, "input": number(call.input[(0, *source)]),
            "value": number(call.output[(0, *index)]),
            "reads": reads_at(source),
            "formula": "the input at the same row-major position"}


def flatten_input_gradient(module, call: Call, index: tuple[int, ...]) -> dict:
    target = _moved(index, call.input.shape[1:], call.output.shape[1:])
    grad = call.grad_output[(0, *target)]
    value = None if call.grad_input is None else number(call.grad_input[(0, *index)])
    return {"target": target, "grad": number(grad), "count": 1, "sum": number(grad),
            "value": value, "formula": "the output gradient at the same row-major position"}
