"""The network as the page draws it: a tree of nodes, built by walking any ``Module``.

Three kinds of node, chosen by the module's place in the tree, never by its class name:

* ``layer``: a module without children (Conv2d, ReLU, a layer written by a user...). Its
  output is drawn as maps (``(C, H, W)``) or a strip of units (``(F,)``); ``explains`` names
  the unit view the page can open for it (None: values only), ``source`` the node whose output
  it reads (highlighted when a unit is clicked).
* ``sequence``: a ``Sequential``, drawn as its children in order.
* ``block``: any other module with children (LeNet-5's root, a residual block), drawn as a box
  holding its children in the order they ran. ``own_output`` says whether the block's output
  differs from every child's (a residual sum computed in its ``forward``), and is then drawn
  as one more row at the end of the box.

So a model the explorer has never seen, a ResNet's ``BasicBlock`` say, draws as a box of its
convolutions, normalisations and ReLUs with its sum at the bottom.
"""

from __future__ import annotations

from minicnn.explore.trace import Trace, has_children
from minicnn.explore.units import explainer_for
from minicnn.nn.container import Sequential
from minicnn.nn.module import Module

__all__ = ["describe_model"]


def _shape(array) -> list[int] | None:
    return None if array is None else list(array.shape[1:])


def _one_line(module: Module) -> str:
    """A leaf's repr, or a block's class name and its own settings (not its children's)."""
    if not has_children(module):
        return repr(module)
    return f"{type(module).__name__}({module.extra_repr()})"


def _node(trace: Trace, name: str, module: Module) -> dict:
    call = trace.calls.get(name)
    children = list(module.named_children())
    node = {
        "name": name,
        "label": name.rsplit(".", 1)[-1] if name else type(module).__name__,
        "type": type(module).__name__,
        "repr": _one_line(module),
        "kind": ("sequence" if isinstance(module, Sequential) else "block") if children
        else "layer",
        "ran": call is not None,
        "calls": 0 if call is None else call.calls,
        "input_shape": None if call is None else _shape(call.input),
        "output_shape": None if call is None else _shape(call.output),
        "parameters": {key: list(parameter.shape)
                       for key, parameter in module.named_parameters(recurse=False)},
    }
    if not children:
        explainer = explainer_for(module)
        node["explains"] = None if explainer is None else explainer.kind
        node["source"] = None if call is None else trace.source_of(call)
        return node
    if not isinstance(module, Sequential):
        # Children in the order the forward ran them; any that never ran go last.
        order = {child_name: trace.calls[f"{name}.{child_name}" if name else child_name].order
                 for child_name, _ in children
                 if (f"{name}.{child_name}" if name else child_name) in trace.calls}
        children.sort(key=lambda item: order.get(item[0], len(trace.calls)))
    node["children"] = [_node(trace, f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in children]
    leaf_outputs = [producer for producer in trace.producers_of(call.output)
                    if producer.is_leaf] if call is not None and call.output is not None else []
    node["own_output"] = call is not None and call.output is not None and not leaf_outputs
    return node


def describe_model(trace: Trace) -> dict:
    """The tree of :mod:`this module's docstring <minicnn.explore.describe>`, rooted at the
    model, from a trace of one image (which gives every node its shapes)."""
    return _node(trace, "", trace.model)
