"""``minicnn.onnx.export``: write a model as an ONNX file that onnxruntime (or any ONNX
runtime: a browser's, a phone's) runs to the same answers."""

from __future__ import annotations

import os

import numpy as np

from minicnn.nn._checks import layer_name
from minicnn.onnx.registry import ExportError, GraphBuilder, find_converter
from minicnn.onnx.trace import trace

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "export", "to_onnx"]

DEFAULT_OPSET = 17
"""The operator set written unless told otherwise: supported by every onnxruntime since 1.11
(2022), including its web build."""
MIN_OPSET = 13
"""The oldest accepted: from 13 on, Softmax normalises along one axis, as torch's does."""

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _import_onnx():
    try:
        import onnx
    except ImportError as error:
        raise ImportError(f"exporting to ONNX needs the onnx package ({error}); install it "
                          "with: pip install 'minicnn-numpy[onnx]'") from None
    return onnx


def _describe(call) -> str:
    return f"{call.name or 'the model'} {layer_name(call.module)}"


def _convert_calls(graph: GraphBuilder, module, input_names: list[str], arrays: tuple):
    """Trace ``module`` on ``arrays`` and add its layers' nodes; returns the name of its
    output and the output itself."""
    calls, output = trace(module, arrays)
    names = {id(array): name for array, name in zip(arrays, input_names)}
    for call in calls:
        converter = find_converter(call.module)
        if converter is None:
            raise ExportError(
                f"cannot export {_describe(call)}: there is no ONNX converter for "
                f"{type(call.module).__name__}; write one and register it with "
                "@minicnn.onnx.register_converter")
        inputs = []
        for array in call.inputs:
            if id(array) not in names:
                raise ExportError(
                    f"cannot export {_describe(call)}: its input was computed by the model's "
                    "own code between layers (e.g. an arithmetic operation or a reshape in a "
                    "forward method), which the export does not see; make that step a layer, "
                    "or register a converter for the module whose forward does it")
            inputs.append(names[id(array)])
        output_name = converter(graph, call, inputs)
        if not isinstance(call.output, np.ndarray):
            raise ExportError(f"cannot export {_describe(call)}: it returned a "
                              f"{type(call.output).__name__}, not one array")
        names[id(call.output)] = output_name
    if not isinstance(output, np.ndarray) or id(output) not in names:
        raise ExportError("cannot export the model: its output was not returned by any of its "
                          "layers (its forward computes it itself)")
    return names[id(output)], output


def to_onnx(model, example_input: np.ndarray, opset: int = DEFAULT_OPSET,
            input_name: str = "input", output_name: str = "output"):
    """The ``onnx.ModelProto`` of ``model`` (checked by ``onnx.checker``); see :func:`export`."""
    onnx = _import_onnx()
    if not isinstance(example_input, np.ndarray) or example_input.dtype not in _FLOAT_DTYPES:
        raise TypeError("export: example_input must be a float32 or float64 numpy array, got "
                        f"{getattr(example_input, 'dtype', type(example_input).__name__)}")
    if example_input.ndim < 1:
        raise ValueError("export: example_input needs a batch axis (shape (N, ...))")
    latest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= latest:
        raise ValueError(f"export: opset must be an int from {MIN_OPSET} to {latest} (the "
                         f"installed onnx package's newest), got {opset!r}")
    dtype = example_input.dtype
    graph = GraphBuilder(opset, dtype)
    graph.fresh_name(input_name)
    graph._convert_module = lambda module, names, arrays: _convert_calls(
        graph, module, names, arrays)[0]
    result, output = _convert_calls(graph, model, [input_name], (example_input,))
    helper = onnx.helper
    if result == input_name:
        graph.nodes.append(helper.make_node("Identity", [input_name], [output_name]))
    else:
        for node in graph.nodes:  # the last tensor takes the graph output's name
            node.output[:] = [output_name if name == result else name for name in node.output]
            node.input[:] = [output_name if name == result else name for name in node.input]
    elem_type = helper.np_dtype_to_tensor_dtype(dtype)
    # The batch axis is symbolic: the file runs on any batch size.
    inputs = [helper.make_tensor_value_info(input_name, elem_type,
                                            ["batch", *example_input.shape[1:]])]
    outputs = [helper.make_tensor_value_info(output_name, elem_type,
                                             ["batch", *output.shape[1:]])]
    onnx_graph = helper.make_graph(graph.nodes, type(model).__name__, inputs, outputs,
                                   graph.initializers)
    opsets = [helper.make_opsetid("", opset)]
    from minicnn import __version__

    proto = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="minicnn",
                              producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model, example_input: np.ndarray, path: str | os.PathLike,
           opset: int = DEFAULT_OPSET, input_name: str = "input",
           output_name: str = "output") -> None:
    """Write ``model`` to ``path`` as an ONNX file, as ``torch.onnx.export`` does.

    The model is traced in evaluation mode on ``example_input`` (its modes are restored):
    BatchNorm normalises with its running statistics and Dropout is left out. The batch axis
    is dynamic (named ``batch``); the other axes are ``example_input``'s. The graph's tensors
    have the input's dtype (float32, or float64, which fewer runtimes implement), and the file
    is checked with ``onnx.checker`` before it is written, atomically.

    Args:
        model: a minicnn Module made of layers with converters (see
            :mod:`minicnn.onnx.converters`); any container or model class whose ``forward``
            only passes arrays from one layer to the next (Sequential, LeNet5, SeedNet, your
            own) needs none.
        example_input: an input batch, ``(N, C, H, W)`` for a CNN.
        path: the ``.onnx`` file to write.
        opset: the ONNX operator-set version. Default: :data:`DEFAULT_OPSET` (17)
        input_name, output_name: the graph's input and output names.

    Raises:
        ExportError: a layer without a converter, or a setting ONNX cannot express, named by
            its path in the model and its repr.

    Example::

        minicnn.onnx.export(model, np.zeros((1, 1, 28, 28), np.float32), "lenet5.onnx")
    """
    from minicnn.train.checkpoint import atomic_write_bytes

    proto = to_onnx(model, example_input, opset, input_name, output_name)
    atomic_write_bytes(path, proto.SerializeToString())
