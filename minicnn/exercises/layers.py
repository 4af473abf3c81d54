"""minicnn modules and optimisers built from a learner's functions, to plug into LeNet-5.

Each wrapper calls the learner's ``*_forward`` (keeping the ``cache`` it returns) and
``*_backward`` (adding parameter gradients into ``param.grad``), so a learner's layer takes
the place of minicnn's in a real network. Layers that hold parameters take them from the
minicnn layer they replace, so the learner's network starts from exactly the weights of its
twin built with minicnn's own layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from minicnn.exercises.exercise import unpack
from minicnn.functional.normalization import batch_norm
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter

__all__ = [
    "FunctionLayer",
    "FunctionLoss",
    "FunctionOptimizer",
    "LearnerBatchNorm2d",
    "ParameterLayer",
    "ResidualBlock",
    "replace_layers",
]


def replace_layers(module: Module, layer_type: type, make: Callable) -> None:
    """Replace every child of exactly ``layer_type`` (at any depth) with ``make(child)``."""
    for name, child in list(module._modules.items()):
        if type(child) is layer_type:
            setattr(module, name, make(child))
        elif child is not None:
            replace_layers(child, layer_type, make)


class _CachingLayer(Module):
    """Holds the cache of one forward until its backward, as every minicnn layer does."""

    def __init__(self, label: str):
        super().__init__()
        self.label = label
        self._cache = None

    def extra_repr(self) -> str:
        return self.label

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{self.label}: backward() called before forward()")
        cache, self._cache = self._cache, None
        return cache


class FunctionLayer(_CachingLayer):
    """A layer without parameters: ``forward(x, *args) -> (out, cache)``,
    ``backward(grad_output, cache) -> grad_input``."""

    def __init__(self, forward: Callable, backward: Callable, *args):
        super().__init__(f"your {forward.__name__}/{backward.__name__}")
        self._forward_fn, self._backward_fn, self._args = forward, backward, args

    def forward(self, x):
        out, self._cache = unpack(self._forward_fn(x, *self._args), 2,
                                  self._forward_fn.__name__, "(out, cache)")
        return out

    def backward(self, grad_output):
        return self._backward_fn(grad_output, self._take_cache())


class ParameterLayer(_CachingLayer):
    """A layer with ``weight`` and ``bias`` (Linear, Conv2d) taken from ``layer``:
    ``forward(x, weight, bias, *args) -> (out, cache)``,
    ``backward(grad_output, cache) -> (grad_input, grad_weight, grad_bias)``."""

    def __init__(self, layer: Module, forward: Callable, backward: Callable, *args):
        super().__init__(f"your {forward.__name__}/{backward.__name__}")
        self.weight, self.bias = layer.weight, layer.bias
        self._forward_fn, self._backward_fn, self._args = forward, backward, args

    def forward(self, x):
        out, self._cache = unpack(
            self._forward_fn(x, self.weight.data, self.bias.data, *self._args), 2,
            self._forward_fn.__name__, "(out, cache)")
        return out

    def backward(self, grad_output):
        grad_input, grad_weight, grad_bias = unpack(
            self._backward_fn(grad_output, self._take_cache()), 3,
            self._backward_fn.__name__, "(grad_input, grad_weight, grad_bias)")
        self.weight.accumulate_grad(grad_weight)
        self.bias.accumulate_grad(grad_bias)
        return grad_input


class LearnerBatchNorm2d(ParameterLayer):
    """BatchNorm2d in training mode with the learner's functions; in evaluation mode the
    running statistics (kept here, as ``torch.nn.BatchNorm2d`` keeps them) normalise."""

    def __init__(self, layer: Module, forward: Callable, backward: Callable):
        super().__init__(layer, forward, backward, layer.eps)
        self.momentum = layer.momentum
        self.register_buffer("running_mean", layer.running_mean.copy())
        self.register_buffer("running_var", layer.running_var.copy())

    def forward(self, x):
        if not self.training:
            return batch_norm(x, self.running_mean, self.running_var, self.weight.data,
                              self.bias.data, training=False, eps=self._args[0])
        values = x.shape[0] * x.shape[2] * x.shape[3]
        mean = x.mean(axis=(0, 2, 3))
        unbiased_var = x.var(axis=(0, 2, 3)) * (values / (values - 1))
        self.running_mean[...] = (1 - self.momentum) * self.running_mean + self.momentum * mean
        self.running_var[...] = ((1 - self.momentum) * self.running_var
                                 + self.momentum * unbiased_var)
        return super().forward(x)


class ResidualBlock(_CachingLayer):
    """``out = relu(main(x) + x)`` from ``residual_forward`` / ``residual_backward``."""

    def __init__(self, main: Module, forward: Callable, backward: Callable):
        super().__init__(f"your {forward.__name__}/{backward.__name__}")
        self.main = main
        self._forward_fn, self._backward_fn = forward, backward

    def forward(self, x):
        out, self._cache = unpack(self._forward_fn(x, self.main), 2,
                                  self._forward_fn.__name__, "(out, cache)")
        return out

    def backward(self, grad_output):
        return self._backward_fn(grad_output, self._take_cache(), self.main)


class FunctionLoss(_CachingLayer):
    """A loss from ``loss_fn(logits, labels) -> (loss, grad_logits)``; ``backward()`` returns
    the gradient of the loss, as :class:`minicnn.nn.CrossEntropyLoss` does."""

    def __init__(self, loss: Callable):
        super().__init__(f"your {loss.__name__}")
        self._loss_fn = loss

    def forward(self, logits, labels):
        loss, self._cache = unpack(self._loss_fn(logits, labels), 2, self._loss_fn.__name__,
                                   "(loss, grad_logits)")
        return loss

    def backward(self, grad_output=None):
        grad_logits = self._take_cache()
        return grad_logits if grad_output is None else grad_logits * grad_output


class FunctionOptimizer:
    """An optimiser whose per-parameter update is the learner's function.

    ``update(param, grad, state, step) -> (new_param, new_state)`` where ``state`` is the
    parameter's state from the previous step (``None`` at first) and ``step`` counts from 1.
    """

    def __init__(self, params: Iterable[Parameter], update: Callable):
        self.params = list(params)
        self._update = update
        self._state: dict[int, object] = {}
        self._step = 0

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        self._step += 1
        for index, param in enumerate(self.params):
            if param.grad is None:
                continue
            new_param, self._state[index] = self._update(
                param.data, param.grad, self._state.get(index), self._step)
            param.data[...] = np.asarray(new_param)
