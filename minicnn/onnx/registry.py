"""The converter registry and the graph builder the converters write into.

A *converter* turns one call of one layer into ONNX nodes::

    @register_converter(nn.ReLU)
    def convert_relu(graph: GraphBuilder, call: Call, inputs: list[str]) -> str:
        return graph.node("Relu", inputs, call.name)

It receives the builder, the traced :class:`Call` (the module, its path in the model, the
arrays it received and returned: their shapes and dtypes) and the ONNX names of its inputs, and
returns the name of its output (one of ``inputs`` for a layer that changes nothing, as Dropout
in evaluation). Converters are looked up along the module's class hierarchy, so one for
``_BatchNorm`` serves BatchNorm1d, BatchNorm2d and SyncBatchNorm. A container whose ``forward``
does more than call its children in a row (a residual block adding a shortcut) gets a converter
too, which converts the children with :meth:`GraphBuilder.convert` and adds the rest itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["CONVERTERS", "Call", "ExportError", "GraphBuilder", "find_converter",
           "register_converter"]


class ExportError(ValueError):
    """A model (or one of its layers) that cannot be written as ONNX; the message names it."""


class Call(NamedTuple):
    """One call of a layer during the export's trace of the model."""

    module: object
    name: str  # the module's path in the model, as in state_dict keys ("features.0")
    inputs: tuple  # the arrays it received
    output: np.ndarray  # the array it returned


Converter = Callable[["GraphBuilder", Call, list], str]
CONVERTERS: dict[type, Converter] = {}
"""Layer class -> converter. Extend with :func:`register_converter`."""


def register_converter(*module_types: type) -> Callable[[Converter], Converter]:
    """Decorator: use the function to export layers of these classes (and their subclasses)."""

    def register(converter: Converter) -> Converter:
        for module_type in module_types:
            CONVERTERS[module_type] = converter
        return converter

    return register


def find_converter(module) -> Converter | None:
    """The converter of ``module``'s class or of its nearest registered base class."""
    for cls in type(module).__mro__:
        if cls in CONVERTERS:
            return CONVERTERS[cls]
    return None


class GraphBuilder:
    """The nodes and initialisers of the graph being built, with unique tensor names.

    Attributes:
        opset: the ONNX operator-set version the nodes must follow.
        dtype: the floating dtype of the model (float32 or float64).
    """

    def __init__(self, opset: int, dtype: np.dtype):
        from onnx import helper, numpy_helper

        self._helper, self._numpy_helper = helper, numpy_helper
        self.opset = opset
        self.dtype = np.dtype(dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()
        # Set by the exporter: converts a sub-module given its inputs' names and arrays.
        self._convert_module: Callable | None = None

    def fresh_name(self, hint: str) -> str:
        """A tensor name not used yet, readable: ``hint``, else ``hint_2``, ``hint_3``..."""
        base = hint.replace("/", ".") or "tensor"
        name, suffix = base, 1
        while name in self._used:
            suffix += 1
            name = f"{base}_{suffix}"
        self._used.add(name)
        return name

    def initializer(self, array: np.ndarray, hint: str) -> str:
        """A constant of the graph (a weight, a shape), named after ``hint``."""
        name = self.fresh_name(hint)
        self.initializers.append(self._numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, inputs: list[str], hint: str, **attributes) -> str:
        """Add an ``op_type`` node reading ``inputs``; returns the name of its one output."""
        output = self.fresh_name(f"{hint}.{op_type}" if hint else op_type)
        self.nodes.append(self._helper.make_node(op_type, list(inputs), [output],
                                                 name=output, **attributes))
        return output

    def convert(self, module, inputs: list[str], arrays: tuple) -> str:
        """Convert ``module`` (called on ``arrays``, named ``inputs`` in the graph) as the
        exporter converts a model: for converters of containers (a residual block's)."""
        return self._convert_module(module, inputs, arrays)
