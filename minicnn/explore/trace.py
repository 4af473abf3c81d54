"""One image through any network, forward and (optionally) backward, every module watched.

Hooks do the watching, so no layer and no model needs to know it is being explored: a forward
pre-hook on every module notes the order modules start in, a forward hook keeps each one's
input and output, and a full backward hook keeps the gradient of its output (``dLoss/d
output``) and of its input. That works for any ``Module`` tree: a ``Sequential``, LeNet-5's two
blocks, a residual block whose ``forward`` adds its shortcut in plain code. (Hooks also keep
``Sequential`` from fusing Conv2d -> ReLU -> MaxPool2d into one kernel, so each layer's own
output is there to see; the numbers are the same, see :mod:`minicnn.nn.fused`.)

Arrays are linked by identity: the ``Sequential`` hands a layer's output object to the next
layer, so the module whose output *is* another's input is the one it reads from
(:meth:`Trace.source_of`, :meth:`Trace.consumers_of`); a layer that returns its input itself
(``Identity``, ``Dropout`` in eval mode) is then the source of the layer after it. That is how
the page knows which maps to highlight "in the layer below" and which layers a gradient came
back from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minicnn.nn.loss import CrossEntropyLoss
from minicnn.nn.module import Module

__all__ = ["Call", "Trace", "has_children", "is_ancestor", "run_trace"]


def has_children(module: Module) -> bool:
    return any(True for _ in module.children())


def is_ancestor(name: str, of: str) -> bool:
    """Whether the module called ``name`` holds the module called ``of`` ("" holds all)."""
    return name != of and (name == "" or of.startswith(name + "."))


@dataclass
class Call:
    """What one module saw in the traced pass (its last call, if it ran more than once)."""

    name: str  # as in named_modules(): "" for the model itself, "features.0", ...
    module: Module
    order: int  # when its forward started (a block starts before its children)
    calls: int = 0  # how many times its forward ran (a shared ReLU runs more than once)
    input: np.ndarray | None = None
    output: np.ndarray | None = None
    grad_output: np.ndarray | None = None  # dLoss/d output, after the backward
    grad_input: np.ndarray | None = None  # dLoss/d input (None where the layer skips it)

    @property
    def is_leaf(self) -> bool:
        return not has_children(self.module)


@dataclass
class Trace:
    """The record of one pass: every module's :class:`Call`, the loss and the gradients.

    Arrays keep the batch axis of the one-image batch, ``(1, ...)``.
    """

    model: Module
    input: np.ndarray
    output: np.ndarray
    calls: dict[str, Call]  # in the order the modules started
    target: int | None = None
    loss: float | None = None
    grad_logits: np.ndarray | None = None  # dLoss/d logits, what the loss's backward returned
    parameter_grads: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def input_grad(self) -> np.ndarray | None:
        return self.calls[""].grad_input

    def producers_of(self, array: np.ndarray) -> list[Call]:
        """The calls whose output is ``array`` itself: layers first, the latest to start first.

        A ``Sequential`` returns its last layer's output object, so a block and its last layer
        both produced it; an ``Identity`` returns its input, so it shares its producer's.
        """
        found = [call for call in self.calls.values() if call.output is array]
        return sorted(found, key=lambda call: (not call.is_leaf, -call.order))

    def consumers_of(self, node: str) -> list[Call]:
        """The calls that read node ``node``'s output (``"input"``: the image), in the order
        they started; a block and its first layer both read it when the block hands its input
        to that layer."""
        return [call for call in self.calls.values()
                if call.name != "" and self.source_of(call) == node]

    def source_of(self, call: Call) -> str | None:
        """The name of the node whose output ``call`` reads: the producing module (a layer in
        preference to a block holding it), ``"input"`` for the image, or None when the input
        was made by plain code inside a block's ``forward`` (a residual sum, say)."""
        if call.input is None:
            return None
        for producer in self.producers_of(call.input):
            if (producer is not call and not is_ancestor(producer.name, call.name)
                    and producer.order < call.order):
                return producer.name
        return "input" if call.input is self.input else None


def _first_array(value):
    """A module's output, or the first array of a tuple output (MaxPool2d's return_indices)."""
    if isinstance(value, tuple):
        value = value[0] if value else None
    return value if isinstance(value, np.ndarray) else None


def run_trace(model: Module, batch: np.ndarray, target: int | None = None) -> Trace:
    """Run ``batch`` (one image, ``(1, C, H, W)``) through ``model`` in eval mode, watched.

    With ``target`` (a class index), also compute the cross-entropy loss of that class and run
    ``model.backward``: every :class:`Call` then holds its gradients and
    :attr:`Trace.parameter_grads` each parameter's ``dLoss/d parameter``. The model is left as
    it was found: its mode, its parameters' ``.grad`` and no hooks.
    """
    names = {id(module): name for name, module in model.named_modules()}
    modules = dict(model.named_modules())
    calls: dict[str, Call] = {}
    started = [0]

    def note_start(module, args):
        name = names[id(module)]
        call = calls.get(name)
        if call is None:
            call = calls[name] = Call(name, module, started[0])
            started[0] += 1
        call.calls += 1
        call.input = _first_array(args[0] if args else None)

    def keep_output(module, args, output):
        calls[names[id(module)]].output = _first_array(output)

    def keep_gradients(module, grad_input, grad_output):
        call = calls.get(names[id(module)])
        if call is not None:
            call.grad_input = _first_array(grad_input[0] if grad_input else None)
            call.grad_output = _first_array(grad_output[0] if grad_output else None)

    handles = []
    for module in modules.values():
        handles.append(module.register_forward_pre_hook(note_start))
        handles.append(module.register_forward_hook(keep_output))
        handles.append(module.register_full_backward_hook(keep_gradients))
    parameters = list(model.named_parameters())
    saved_grads = [parameter.grad for _, parameter in parameters]
    was_training = model.training
    model.eval()
    try:
        for _, parameter in parameters:
            parameter.grad = None
        logits = model(batch)
        trace = Trace(model, batch, logits, calls)
        if target is not None:
            loss_fn = CrossEntropyLoss()
            trace.target = int(target)
            trace.loss = float(loss_fn(logits, np.array([target], dtype=np.int64)))
            trace.grad_logits = loss_fn.backward()
            model.backward(trace.grad_logits)
            trace.parameter_grads = {name: parameter.grad for name, parameter in parameters
                                     if parameter.grad is not None}
    finally:
        model.train(was_training)
        for (_, parameter), grad in zip(parameters, saved_grads):
            parameter.grad = grad
        for handle in handles:
            handle.remove()
    return trace
