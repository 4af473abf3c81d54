"""An element-wise unit (ReLU, LeakyReLU, Sigmoid, Tanh, Identity, Dropout in eval mode).

Forward, each output is a function of the one input at the same position: ``y = f(x)``.
Backward, that input's gradient is the output's gradient times the local slope:
``dLoss/d x = dLoss/d y * f'(x)`` (ReLU: 1 where ``x > 0``, else 0: a dead unit passes
nothing back).
"""

from __future__ import annotations

from minicnn.explore.trace import Call
from minicnn.explore.units._common import number, reads_at
from minicnn.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh

__all__ = ["elementwise_forward", "elementwise_input_gradient", "local_slope"]


def _function(module) -> str:
    if isinstance(module, ReLU):
        return "max(0, x)"
    if isinstance(module, LeakyReLU):
        return f"x if x > 0 else {module.negative_slope:g} * x"
    if isinstance(module, Sigmoid):
        return "1 / (1 + exp(-x))"
    if isinstance(module, Tanh):
        return "tanh(x)"
    return "x (passed through unchanged in eval mode)"


def local_slope(module, x: float, y: float) -> tuple[float, str]:
    """``f'(x)`` and how it follows from ``x`` and ``y``, in the layer's own rule."""
    if isinstance(module, ReLU):
        return (1.0, "x > 0, so the slope is 1") if x > 0 else (0.0, "x <= 0: the slope is 0")
    if isinstance(module, LeakyReLU):
        slope = module.negative_slope
        return (1.0, "x > 0, so the slope is 1") if x > 0 else (slope, f"x <= 0: {slope:g}")
    if isinstance(module, Sigmoid):
        return y * (1 - y), "y * (1 - y)"
    if isinstance(module, Tanh):
        return 1 - y * y, "1 - y^2"
    return 1.0, "passed through: the slope is 1"


def elementwise_forward(module, call: Call, index: tuple[int, ...]) -> dict:
    x = call.input[(0, *index)]
    y = call.output[(0, *index)]
    return {"input": number(x), "value": number(y), "formula": _function(module),
            "reads": reads_at(index)}


def elementwise_input_gradient(module, call: Call, index: tuple[int, ...]) -> dict:
    x = float(call.input[(0, *index)])
    y = float(call.output[(0, *index)])
    grad = call.grad_output[(0, *index)]
    slope, why = local_slope(module, x, y)
    product = float(grad) * slope
    value = None if call.grad_input is None else number(call.grad_input[(0, *index)])
    return {"grad": number(grad), "input": number(x), "slope": number(slope), "why": why,
            "count": 1, "sum": number(product), "value": value,
            "formula": "dL/dy * f'(x)"}
