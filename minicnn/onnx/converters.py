"""One converter per layer class: how each minicnn layer is written as ONNX nodes.

=================================  ==============================================================
layer                              ONNX
=================================  ==============================================================
Conv2d                             ``Conv`` (after a ``Pad`` for reflect/replicate/circular
                                   padding)
Linear                             ``Gemm`` (``MatMul`` + ``Add`` for inputs of 3+ dimensions)
MaxPool2d, AvgPool2d               ``MaxPool``, ``AveragePool`` (then a ``Slice`` where torch's
                                   ceil mode drops a last window that ONNX's keeps)
BatchNorm1d/2d, SyncBatchNorm      ``BatchNormalization`` with the running statistics
ReLU, LeakyReLU, Sigmoid, Tanh     ``Relu``, ``LeakyRelu``, ``Sigmoid``, ``Tanh``
Softmax, LogSoftmax                ``Softmax``, ``LogSoftmax`` along the layer's ``dim``
Flatten                            ``Flatten`` (``Reshape`` for other ``start_dim``/``end_dim``)
Dropout, Identity                  nothing: the input passes through (evaluation)
=================================  ==============================================================

Each converter reads the layer's settings as its ``forward`` does and refuses, naming the
layer, a setting ONNX cannot express. A new layer needs one function here, registered with
``@register_converter(TheLayer)``.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional._shapes import pair
from minicnn.nn._checks import layer_name
from minicnn.nn.activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minicnn.nn.conv import Conv2d
from minicnn.nn.dropout import Dropout
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Identity, Linear
from minicnn.nn.normalization import _BatchNorm
from minicnn.nn.pooling import AvgPool2d, MaxPool2d
from minicnn.onnx.registry import Call, ExportError, GraphBuilder, register_converter

__all__ = []  # importing the module registers the converters

# minicnn's padding modes -> ONNX Pad's modes (and the opset that brought each).
_PAD_MODES = {"reflect": ("reflect", 2), "replicate": ("edge", 2), "circular": ("wrap", 19)}


def _refuse(call: Call, reason: str) -> ExportError:
    return ExportError(f"cannot export {call.name or 'the model'} {layer_name(call.module)}: "
                       f"{reason}")


@register_converter(Conv2d)
def convert_conv2d(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    conv = call.module
    top, bottom, left, right = conv._padding_sides
    source = inputs[0]
    if conv.padding_mode != "zeros" and (top or bottom or left or right):
        mode, since = _PAD_MODES[conv.padding_mode]
        if graph.opset < since:
            raise _refuse(call, f"padding_mode={conv.padding_mode!r} needs opset {since} or "
                                f"later (Pad mode {mode!r}), got opset {graph.opset}")
        pads = graph.initializer(np.array([0, 0, top, left, 0, 0, bottom, right], np.int64),
                                 f"{call.name}.pads")
        source = graph.node("Pad", [source, pads], call.name, mode=mode)
        top = bottom = left = right = 0
    weights = [graph.initializer(conv.weight.data, f"{call.name}.weight")]
    if conv.bias is not None:
        weights.append(graph.initializer(conv.bias.data, f"{call.name}.bias"))
    return graph.node("Conv", [source, *weights], call.name,
                      kernel_shape=list(conv.weight.shape[2:]),
                      strides=list(pair(conv.stride, "stride")),
                      dilations=list(pair(conv.dilation, "dilation")),
                      pads=[top, left, bottom, right], group=conv.groups)


@register_converter(Linear)
def convert_linear(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    linear = call.module
    weight = graph.initializer(linear.weight.data, f"{call.name}.weight")
    bias = ([] if linear.bias is None
            else [graph.initializer(linear.bias.data, f"{call.name}.bias")])
    if call.inputs[0].ndim == 2:
        return graph.node("Gemm", [inputs[0], weight, *bias], call.name, transB=1)
    # Gemm takes matrices only; MatMul broadcasts over the leading axes, as Linear does.
    transposed = graph.initializer(linear.weight.data.T, f"{call.name}.weight_t")
    product = graph.node("MatMul", [inputs[0], transposed], call.name)
    return graph.node("Add", [product, *bias], call.name) if bias else product


def _pool_attributes(call: Call) -> dict:
    pool = call.module
    padding = pair(pool.padding, "padding")
    return {"kernel_shape": list(pair(pool.kernel_size, "kernel_size")),
            "strides": list(pair(pool.stride, "stride")),
            "pads": [padding[0], padding[1], padding[0], padding[1]],
            "ceil_mode": int(bool(pool.ceil_mode))}


def _drop_extra_windows(graph: GraphBuilder, call: Call, pooled: str, attributes: dict,
                        dilation: tuple[int, int] = (1, 1)) -> str:
    """In ceil mode torch drops a last window that would start in the right or bottom
    padding; ONNX's size formula keeps it. Slice it off where the two sizes differ."""
    if not attributes["ceil_mode"]:
        return pooled
    onnx_size = [
        -(-(size + 2 * pad - dil * (kernel - 1) - 1) // stride) + 1
        for size, pad, dil, kernel, stride in zip(
            call.inputs[0].shape[2:], attributes["pads"][:2], dilation,
            attributes["kernel_shape"], attributes["strides"])]
    torch_size = list(call.output.shape[2:])
    if onnx_size == torch_size:
        return pooled
    starts = graph.initializer(np.zeros(2, np.int64), f"{call.name}.starts")
    ends = graph.initializer(np.array(torch_size, np.int64), f"{call.name}.ends")
    axes = graph.initializer(np.array([2, 3], np.int64), f"{call.name}.axes")
    return graph.node("Slice", [pooled, starts, ends, axes], call.name)


@register_converter(MaxPool2d)
def convert_max_pool2d(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    if call.module.return_indices:
        raise _refuse(call, "return_indices=True returns two arrays; export the model with "
                            "return_indices=False")
    attributes = _pool_attributes(call)
    dilation = pair(call.module.dilation, "dilation")
    pooled = graph.node("MaxPool", inputs, call.name, **attributes, dilations=list(dilation))
    return _drop_extra_windows(graph, call, pooled, attributes, dilation)


@register_converter(AvgPool2d)
def convert_avg_pool2d(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    if call.module.divisor_override is not None:
        raise _refuse(call, "divisor_override has no ONNX AveragePool equivalent")
    attributes = _pool_attributes(call)
    pooled = graph.node("AveragePool", inputs, call.name, **attributes,
                        count_include_pad=int(bool(call.module.count_include_pad)))
    return _drop_extra_windows(graph, call, pooled, attributes)


@register_converter(_BatchNorm)
def convert_batch_norm(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    norm = call.module
    if norm.running_mean is None or norm.running_var is None:
        raise _refuse(call, "without running statistics (track_running_stats=False) it "
                            "normalises each batch by itself, even in evaluation; ONNX's "
                            "BatchNormalization needs the running statistics")
    channels = norm.num_features
    dtype = norm.running_mean.dtype
    scale = norm.weight.data if norm.weight is not None else np.ones(channels, dtype)
    shift = norm.bias.data if norm.bias is not None else np.zeros(channels, dtype)
    names = [graph.initializer(value, f"{call.name}.{what}") for what, value in
             (("weight", scale), ("bias", shift), ("running_mean", norm.running_mean),
              ("running_var", norm.running_var))]
    return graph.node("BatchNormalization", [inputs[0], *names], call.name,
                      epsilon=float(norm.eps))


@register_converter(ReLU)
def convert_relu(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    return graph.node("Relu", inputs, call.name)


@register_converter(LeakyReLU)
def convert_leaky_relu(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    return graph.node("LeakyRelu", inputs, call.name, alpha=float(call.module.negative_slope))


@register_converter(Sigmoid)
def convert_sigmoid(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    return graph.node("Sigmoid", inputs, call.name)


@register_converter(Tanh)
def convert_tanh(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    return graph.node("Tanh", inputs, call.name)


@register_converter(Softmax, LogSoftmax)
def convert_softmax(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    ndim = call.inputs[0].ndim
    dim = call.module.dim
    if dim is None:  # torch's legacy choice, which the layer follows
        dim = 0 if ndim in (0, 1, 3) else 1
    op_type = "Softmax" if isinstance(call.module, Softmax) else "LogSoftmax"
    return graph.node(op_type, inputs, call.name, axis=dim % ndim)


@register_converter(Flatten)
def convert_flatten(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    shape = call.inputs[0].shape
    start, end = call.module.start_dim % len(shape), call.module.end_dim % len(shape)
    if start == 1 and end == len(shape) - 1:
        return graph.node("Flatten", inputs, call.name, axis=1)
    # Reshape: 0 keeps an axis (the batch's, whatever its size), -1 takes what is left.
    target = [0] * start + [-1] + list(shape[end + 1:])
    target_name = graph.initializer(np.array(target, np.int64), f"{call.name}.shape")
    return graph.node("Reshape", [inputs[0], target_name], call.name)


@register_converter(Dropout, Identity)
def convert_pass_through(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
    return inputs[0]
