"""A fully connected unit: every input times its weight, summed, plus the bias.

Forward, ``y[j] = bias[j] + sum over i of weight[j, i] * x[i]``. Backward, input ``x[i]`` fed
every output, so ``dLoss/d x[i] = sum over j of weight[j, i] * dLoss/d y[j]``: a column of the
weight matrix against the output gradient.
"""

from __future__ import annotations

from minicnn.explore.trace import Call
from minicnn.explore.units._common import number, numbers, sum_of
from minicnn.nn.linear import Linear

__all__ = ["linear_forward", "linear_input_gradient"]


def linear_forward(module: Linear, call: Call, index: tuple[int, ...]) -> dict:
    """Inputs, the weight row and their products behind output unit ``index = (j,)``."""
    (unit,) = index[-1:]
    inputs = call.input[(0, *index[:-1])]
    weights = module.weight.data[unit]
    products = weights * inputs
    total = sum_of(products)
    bias = None if module.bias is None else number(module.bias.data[unit])
    value = number(call.output[(0, *index)])
    result = total + (bias or 0.0)
    return {
        "reads": {"all": True},
        "inputs": numbers(inputs),
        "weights": numbers(weights),
        "products": numbers(products),
        "sum": total,
        "bias": bias,
        "total": result,
        "value": value,
        "difference": None if value is None else result - value,
        "formula": "sum(weight row * inputs) + bias",
    }


def linear_input_gradient(module: Linear, call: Call, index: tuple[int, ...]) -> dict:
    """``dLoss/d x[i]`` as the sum over outputs ``j`` of ``weight[j, i] * dLoss/d y[j]``."""
    (feature,) = index[-1:]
    grads = call.grad_output[(0, *index[:-1])]
    weights = module.weight.data[:, feature]
    products = weights * grads
    value = None if call.grad_input is None else number(call.grad_input[(0, *index)])
    return {
        "weights": numbers(weights),
        "grads": numbers(grads),
        "products": numbers(products),
        "count": len(products),
        "sum": sum_of(products),
        "value": value,
        "formula": "sum over j of weight[j, i] * dL/dy[j]",
    }
