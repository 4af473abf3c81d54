"""Explain one unit: how its value was computed, and how its gradient was assembled.

Each layer type that has arithmetic worth showing has an :class:`Explainer` (one file per
kind: ``conv``, ``linear``, ``pooling``, ``elementwise``, ``reshape``, ``normalization``): a
``forward`` that recomputes one output unit from the layer's recorded input and its
parameters, term by term, and an ``input_gradient`` that recomputes one entry of the layer's
input gradient from its recorded output gradient. The page shows those terms next to the
numbers the layer itself produced (``value``): they agree up to float32 rounding, which is the
point. A layer of any other type still gets its input and output values, never an error.

The gradient of a unit (:func:`explain_gradient`) is assembled from the *consumers* of the
node it belongs to: every layer that read that node's output (usually one; two where a path
forks, as at the input of a residual block) gave back ``dLoss/d input``, and those add up. A
block whose ``forward`` also uses the array in plain code (a residual sum) shows that share as
``other``. The network's output is read by the loss: for cross-entropy,
``dLoss/d logit[k] = p[k] - [k == target]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from minicnn.explore.errors import RequestError
from minicnn.explore.trace import Call, Trace, is_ancestor
from minicnn.explore.units._common import check_index, number, reads_at
from minicnn.explore.units.conv import conv_forward, conv_input_gradient
from minicnn.explore.units.elementwise import elementwise_forward, elementwise_input_gradient
from minicnn.explore.units.linear import linear_forward, linear_input_gradient
from minicnn.explore.units.normalization import (
    batch_norm_forward,
    batch_norm_input_gradient,
    uses_running_stats,
)
from minicnn.explore.units.pooling import (
    avg_pool_forward,
    avg_pool_input_gradient,
    max_pool_forward,
    max_pool_input_gradient,
)
from minicnn.explore.units.reshape import flatten_forward, flatten_input_gradient
from minicnn.functional.activation import softmax
from minicnn.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from minicnn.nn.conv import Conv2d
from minicnn.nn.dropout import Dropout
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Identity, Linear
from minicnn.nn.module import Module
from minicnn.nn.normalization import BatchNorm1d, BatchNorm2d
from minicnn.nn.pooling import AvgPool2d, MaxPool2d

__all__ = ["Explainer", "explain_gradient", "explain_unit", "explainer_for", "node_array"]


@dataclass(frozen=True)
class Explainer:
    """How to explain the units of one kind of layer.

    Attributes:
        kind: the name the page's unit view is chosen by (``"conv2d"``, ``"linear"``, ...).
        forward: ``(module, call, index) -> dict`` for output unit ``index``.
        input_gradient: ``(module, call, index) -> dict`` for input entry ``index``.
        applies: whether it can explain this module as it ran (BatchNorm: only with running
            statistics).
    """

    kind: str
    forward: Callable[[Module, Call, tuple], dict]
    input_gradient: Callable[[Module, Call, tuple], dict]
    applies: Callable[[Module], bool] = lambda module: True


_ELEMENTWISE = Explainer("elementwise", elementwise_forward, elementwise_input_gradient)
EXPLAINERS: list[tuple[tuple[type, ...], Explainer]] = [
    ((Conv2d,), Explainer("conv2d", conv_forward, conv_input_gradient)),
    ((Linear,), Explainer("linear", linear_forward, linear_input_gradient)),
    ((MaxPool2d,), Explainer("max_pool2d", max_pool_forward, max_pool_input_gradient)),
    ((AvgPool2d,), Explainer("avg_pool2d", avg_pool_forward, avg_pool_input_gradient)),
    ((ReLU, LeakyReLU, Sigmoid, Tanh, Identity, Dropout), _ELEMENTWISE),
    ((Flatten,), Explainer("flatten", flatten_forward, flatten_input_gradient)),
    ((BatchNorm1d, BatchNorm2d),
     Explainer("batch_norm", batch_norm_forward, batch_norm_input_gradient, uses_running_stats)),
]
"""Layer types and their explainer, first match wins (a subclass gets its parent's)."""


def explainer_for(module: Module) -> Explainer | None:
    """The explainer of ``module``'s type, or None (the page then shows values only)."""
    for types, explainer in EXPLAINERS:
        if isinstance(module, types) and explainer.applies(module):
            return explainer
    return None


def node_array(trace: Trace, node: str) -> np.ndarray:
    """The array a node of the page shows: ``"input"``, or a module's output (batch axis kept)."""
    if node == "input":
        return trace.input
    call = trace.calls.get(node) if node else None  # "": the model, drawn as its layers
    if call is None or call.output is None:
        known = ", ".join(["input", *(name for name, call in trace.calls.items()
                                      if name and call.output is not None)])
        raise RequestError(f"unknown layer {node!r}: the layers with outputs are {known}")
    return call.output


def explain_unit(trace: Trace, node: str, index) -> dict:
    """How unit ``index`` of ``node``'s output was computed, and, after a backward, how its
    gradient was assembled (``"backward"``, see :func:`explain_gradient`)."""
    array = node_array(trace, node)
    index = check_index(index, array.shape[1:], node)
    value = number(array[(0, *index)])
    if node == "input":
        forward = {"kind": "input", "value": value, "reads": None}
    else:
        call = trace.calls[node]
        explainer = explainer_for(call.module) if call.is_leaf else None
        if explainer is not None:
            forward = {"kind": explainer.kind, **explainer.forward(call.module, call, index)}
        else:
            forward = {"kind": "values", "value": value, "reads": None,
                       "note": _no_arithmetic_note(trace, call)}
    result = {"layer": node, "index": list(index), "value": value, "forward": forward}
    if trace.loss is not None:
        result["backward"] = explain_gradient(trace, node, index)
    return result


def _no_arithmetic_note(trace: Trace, call: Call) -> str:
    kind = type(call.module).__name__
    if call.is_leaf:
        return f"no arithmetic view for {kind} layers: its output value is shown as computed"
    for producer in trace.producers_of(call.output):
        if producer.is_leaf:
            return (f"{kind} is a block: this is the output of its layer {producer.name}; "
                    "click a unit there to see its arithmetic")
    return (f"{kind} is a block whose forward combines its layers' outputs in code (for "
            "example a residual sum): click a unit of one of its layers")


def _outermost(calls: list[Call]) -> list[Call]:
    names = [call.name for call in calls]
    return [call for call in calls if not any(is_ancestor(name, call.name) for name in names)]


def _gradient_at(call: Call, index: tuple) -> float | None:
    return None if call.grad_input is None else number(call.grad_input[(0, *index)])


def _consumer_part(trace: Trace, call: Call, node: str, index: tuple) -> dict:
    """The share of ``dLoss/d node[index]`` that came back through ``call``."""
    part = {"layer": call.name, "type": type(call.module).__name__,
            "contribution": _gradient_at(call, index)}
    if call.is_leaf:
        explainer = explainer_for(call.module)
        if explainer is None or call.grad_output is None:
            return {**part, "kind": "values",
                    "note": f"no breakdown for {part['type']}: its input gradient is shown"}
        return {**part, "kind": explainer.kind,
                **explainer.input_gradient(call.module, call, index)}
    inner = _outermost([consumer for consumer in trace.consumers_of(node)
                        if is_ancestor(call.name, consumer.name)])
    parts = [_consumer_part(trace, consumer, node, index) for consumer in inner]
    if part["contribution"] is None:
        return {**part, "kind": "block", "parts": parts, "other": None}
    if len(inner) == 1 and inner[0].grad_input is call.grad_input:
        return parts[0]  # a Sequential passing its first layer's gradient on, unchanged
    other = part["contribution"] - sum(p["contribution"] or 0.0 for p in parts)
    return {**part, "kind": "block", "parts": parts, "other": other,
            "note": "the rest comes back through plain code in the block's forward (for "
                    "example the shortcut of a residual connection: where a path forks, the "
                    "gradients add)"}


def _loss_part(trace: Trace, index: tuple) -> dict:
    (logit,) = index
    probability = float(softmax(trace.output, dim=1)[0, logit])
    is_target = logit == trace.target
    return {"layer": "loss", "type": "CrossEntropyLoss", "kind": "cross_entropy",
            "contribution": number(trace.grad_logits[0, logit]),
            "probability": probability, "is_target": bool(is_target), "target": trace.target,
            "sum": probability - float(is_target), "count": 1,
            "formula": "p[k] - (1 if k is the target else 0)"}


def explain_gradient(trace: Trace, node: str, index) -> dict:
    """``dLoss/d unit`` and the parts it was added up from, one per layer that read it.

    Returns ``{"value", "parts", "sum", "difference", "note"}``: ``value`` is the gradient the
    backward produced, ``parts`` each reading layer's share (with that layer's breakdown),
    ``sum`` their total; ``difference`` is ``value - sum`` (float32 rounding, or a share that
    came back through code outside any layer, which ``note`` then says).
    """
    array = node_array(trace, node)
    index = check_index(index, array.shape[1:], node)
    if trace.loss is None:
        raise RequestError("no backward pass: give a target class to see gradients")
    if node != "input" and not trace.calls[node].is_leaf:
        # A block whose output its last layer made (a Sequential): that layer's node is the
        # one the next layers read from.
        node = next((producer.name for producer in trace.producers_of(array)
                     if producer.is_leaf), node)
    gradient = trace.input_grad if node == "input" else trace.calls[node].grad_output
    value = None if gradient is None else number(gradient[(0, *index)])
    consumers = _outermost(trace.consumers_of(node))
    parts = [_loss_part(trace, index)] if array is trace.output and not consumers else []
    parts += [_consumer_part(trace, consumer, node, index) for consumer in consumers]
    explained = sum(part["contribution"] or 0.0 for part in parts)
    difference = None if value is None else value - explained
    result = {"value": value, "parts": parts, "sum": explained, "difference": difference,
              "reads": reads_at(index) if array.ndim in (2, 4) else None}
    if value is not None and abs(difference) > 1e-4 * (abs(value) + 1e-6):
        result["note"] = ("part of this gradient came back through code outside the layers "
                          "(a block's forward), which the page cannot break down")
    return result
