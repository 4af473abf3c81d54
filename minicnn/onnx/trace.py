"""Which layers a model calls, in order, on which arrays: the export's view of ``forward``.

minicnn has no autograd graph to read a model's structure from, and a model's ``forward`` is
free Python (``LeNet5.forward`` calls two Sequentials). So the exporter runs the model once on
the example input with a forward hook on every layer it knows how to convert (its *atoms*:
layers with a converter, and layers without children, which must have one) and records each
call. The data flow is recovered from the arrays themselves: a layer's input is the output of
the earlier call that returned that very array. An input that no layer returned was computed
by the model's own Python code, which the export cannot see: :func:`trace` keeps every array
alive, so ``id`` identifies each, and the exporter reports such an input by the layer that
received it.

Hooks switch :class:`~minicnn.nn.Sequential`'s fused kernels off, so each layer is called
alone; the model runs in evaluation mode and its modes are restored afterwards.
"""

from __future__ import annotations

import numpy as np

from minicnn.onnx.registry import Call, find_converter

__all__ = ["atoms", "trace"]


def atoms(module, prefix: str = "") -> list[tuple[str, object]]:
    """``(path, layer)`` for every layer the trace records: the outermost modules that have a
    converter, and the modules without children (with a converter or not)."""
    if find_converter(module) is not None or not any(True for _ in module.children()):
        return [(prefix, module)]
    found = []
    for name, child in module.named_children():
        found += atoms(child, f"{prefix}.{name}" if prefix else name)
    return found


def trace(module, inputs: tuple) -> tuple[list[Call], object]:
    """Run ``module(*inputs)`` in evaluation mode, recording every atom's call.

    Returns the calls in order and the model's output.
    """
    calls: list[Call] = []
    modes = [(sub, sub.training) for sub in module.modules()]
    handles = []
    for name, atom in atoms(module):
        def record(layer, args, output, name=name):
            arrays = tuple(arg for arg in args if isinstance(arg, np.ndarray))
            calls.append(Call(layer, name, arrays, output))
        handles.append(atom.register_forward_hook(record))
    module.eval()
    try:
        output = module(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for sub, training in modes:
            sub.training = training
    return calls, output
