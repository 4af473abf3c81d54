"""ONNX export: a trained minicnn model as a ``.onnx`` file that runs anywhere ONNX does.

``minicnn.onnx.export(model, example_input, "model.onnx")`` (or ``minicnn export RUN_DIR
model.onnx``) traces the model on an example batch and writes one ONNX node (or a few) per
layer, built with the ``onnx`` package's helpers (the ``onnx`` extra): opset 17 by default,
a dynamic batch axis, checked by ``onnx.checker``. Each layer class has one converter function
(:mod:`minicnn.onnx.converters`); :func:`register_converter` adds one for a new layer.
"""

from minicnn.onnx import converters  # noqa: F401 - registers the converters
from minicnn.onnx.export import DEFAULT_OPSET, MIN_OPSET, export, to_onnx
from minicnn.onnx.registry import (
    CONVERTERS,
    Call,
    ExportError,
    GraphBuilder,
    register_converter,
)

__all__ = [
    "CONVERTERS",
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "Call",
    "ExportError",
    "GraphBuilder",
    "export",
    "register_converter",
    "to_onnx",
]
