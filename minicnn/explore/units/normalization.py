"""A batch-normalisation unit in evaluation mode: a per-channel affine map.

With the running statistics (how a trained network runs on one image)
``y = (x - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c]``, so the
backward is the same scale: ``dLoss/d x = dLoss/d y * weight[c] / sqrt(running_var[c] + eps)``.
Without running statistics the layer normalises by the batch's own, which couples every input
of the channel; the page then shows the values only.
"""

from __future__ import annotations

import math

from minicnn.explore.trace import Call
from minicnn.explore.units._common import number, reads_at

__all__ = ["batch_norm_forward", "batch_norm_input_gradient", "uses_running_stats"]


def uses_running_stats(module) -> bool:
    """Whether the traced forward normalised with the running statistics: a trace always runs
    in eval mode (:func:`minicnn.explore.trace.run_trace`), so whenever the layer has them."""
    return module.running_mean is not None and module.running_var is not None


def _scale_shift(module, channel: int) -> tuple[float, float, float, float]:
    mean = float(module.running_mean[channel])
    std = math.sqrt(float(module.running_var[channel]) + module.eps)
    weight = float(module.weight.data[channel]) if module.weight is not None else 1.0
    bias = float(module.bias.data[channel]) if module.bias is not None else 0.0
    return mean, std, weight, bias


def batch_norm_forward(module, call: Call, index: tuple[int, ...]) -> dict:
    x = float(call.input[(0, *index)])
    mean, std, weight, bias = _scale_shift(module, index[0])
    total = (x - mean) / std * weight + bias
    value = number(call.output[(0, *index)])
    return {"reads": reads_at(index), "input": number(x), "mean": mean, "std": std,
            "weight": weight, "bias": bias, "total": total, "value": value,
            "difference": None if value is None else total - value,
            "formula": "(x - running_mean) / sqrt(running_var + eps) * weight + bias"}


def batch_norm_input_gradient(module, call: Call, index: tuple[int, ...]) -> dict:
    _, std, weight, _ = _scale_shift(module, index[0])
    grad = float(call.grad_output[(0, *index)])
    value = None if call.grad_input is None else number(call.grad_input[(0, *index)])
    return {"grad": grad, "slope": weight / std, "count": 1, "sum": grad * weight / std,
            "value": value, "formula": "dL/dy * weight / sqrt(running_var + eps)"}
