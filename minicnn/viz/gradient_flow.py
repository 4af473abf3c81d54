"""Gradient flow: how large a gradient reaches each layer, so vanishing or dead layers show.

Backpropagation multiplies the gradient by each layer's local derivative on its way down. If
those factors are small (saturated tanh/sigmoid) the gradient reaching the first layers is
tiny, and they barely learn: *vanishing gradients*. A ReLU whose input is negative for every
sample passes no gradient at all: a *dead* unit; when most are dead, the layers below it
receive mostly zeros. One backward pass with a full backward hook on every layer measures
both: the mean and maximum of ``|grad_output|`` (the gradient of the loss with respect to the
layer's output) and the fraction of its entries that are exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minicnn.nn.module import Module
from minicnn.viz._figure import new_figure

__all__ = ["LayerGradient", "plot_gradient_flow", "record_gradient_flow"]


@dataclass
class LayerGradient:
    """``|dLoss/d output|`` of one layer over one batch."""

    name: str  # as in named_modules(), e.g. "features.3"
    kind: str  # the layer's class name, e.g. "Conv2d"
    mean_abs: float
    max_abs: float
    zero_fraction: float  # entries exactly 0: ReLU's dead units, max-pooling's losers

    @classmethod
    def from_gradient(cls, name: str, kind: str, grad_output: np.ndarray) -> LayerGradient:
        """The measures of one layer's ``dLoss/d output`` (computed in float64)."""
        magnitude = np.abs(np.asarray(grad_output).astype(np.float64))
        return cls(name, kind, float(magnitude.mean()), float(magnitude.max()),
                   float(np.mean(magnitude == 0)))


def _leaves(model: Module) -> list[tuple[str, Module]]:
    leaves = [(name, module) for name, module in model.named_modules()
              if not any(True for _ in module.children())]
    return leaves or [("", model)]


def record_gradient_flow(model: Module, loss_fn: Module, images: np.ndarray,
                         labels: np.ndarray) -> list[LayerGradient]:
    """Forward ``images``, backward the loss, and measure the gradient at every leaf layer.

    Args:
        model: a Module; its current mode (train/eval) is used.
        loss_fn: e.g. ``CrossEntropyLoss()``.
        images, labels: one batch.

    Returns:
        one :class:`LayerGradient` per leaf layer, in the order the forward ran them.

    The model is left as it was found: each parameter's ``.grad`` is put back after the pass
    (so this can be called in the middle of training) and the hooks are removed.
    """
    leaves = _leaves(model)
    names = {id(module): name for name, module in leaves}
    order: list[int] = []
    grads: dict[int, np.ndarray] = {}

    def note_order(module, args, output):
        if id(module) not in order:
            order.append(id(module))

    def keep_gradient(module, grad_input, grad_output):
        grads[id(module)] = np.asarray(grad_output[0])

    handles = []
    for _, module in leaves:
        handles.append(module.register_forward_hook(note_order))
        handles.append(module.register_full_backward_hook(keep_gradient))
    parameters = list(model.parameters())
    saved = [parameter.grad for parameter in parameters]
    try:
        for parameter in parameters:
            parameter.grad = None
        loss_fn(model(images), labels)
        model.backward(loss_fn.backward())
    finally:
        for parameter, grad in zip(parameters, saved):
            parameter.grad = grad
        for handle in handles:
            handle.remove()
    records = []
    for key in order:
        if key not in grads:  # a layer the backward skipped
            continue
        module = next(module for _, module in leaves if id(module) == key)
        records.append(LayerGradient.from_gradient(names[key], type(module).__name__,
                                                   grads[key]))
    return records


def plot_gradient_flow(records: list[LayerGradient]):
    """Bars of mean and max ``|grad|`` per layer (log scale) over the zero fraction.

    Returns:
        a Figure of ``max(6, 0.6 * layers + 2) x 6`` inches. Layers run left (input) to right
        (loss), as in the forward; healthy training shows bars of similar height, vanishing
        gradients a fall towards the left, dead ReLUs a jump in the zero fraction.
    """
    if not records:
        raise ValueError("plot_gradient_flow: no layers recorded")
    labels = [f"{r.name}\n{r.kind}" for r in records]
    positions = np.arange(len(records))
    figure = new_figure(max(6.0, 0.6 * len(records) + 2), 6)
    magnitude_axes, zero_axes = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    # The floor keeps an all-zero gradient visible on the log axis instead of dropping it.
    floor = 1e-12
    magnitude_axes.bar(positions, [max(r.max_abs, floor) for r in records], width=0.8,
                       color="tab:cyan", label="max |grad|")
    magnitude_axes.bar(positions, [max(r.mean_abs, floor) for r in records], width=0.5,
                       color="tab:blue", label="mean |grad|")
    magnitude_axes.set_yscale("log")
    magnitude_axes.set(title="gradient of the loss reaching each layer's output",
                       ylabel="|dLoss / d output|")
    # Outside the axes: inside, it would hide the bars of the last layers (the largest).
    magnitude_axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    magnitude_axes.grid(alpha=0.3, axis="y")
    zero_axes.bar(positions, [100 * r.zero_fraction for r in records], color="tab:red")
    zero_axes.set(ylabel="% exactly zero", ylim=(0, 100))
    zero_axes.set_xticks(positions, labels, rotation=60, fontsize=7)
    zero_axes.grid(alpha=0.3, axis="y")
    return figure
