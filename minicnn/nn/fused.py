"""Fused steps for :class:`~minicnn.nn.container.Sequential`: several layers, one kernel.

When the fast kernels are on, a ``Sequential`` plans its forward pass as a list of steps:
each child on its own, except that these runs of consecutive children become one step:

* ``Conv2d -> ReLU -> MaxPool2d(2)`` runs :func:`minicnn.kernels.fused.conv2d_relu_maxpool2d`
  (bias, ReLU and the 2x2 max-pool in one pass over the product; the backward routes each
  pooled gradient straight to its window's winner);
* ``Linear -> ReLU`` runs :func:`minicnn.kernels.fused.linear_relu`.

The layers stay ordinary modules: their parameters, ``state_dict`` and ``repr`` are untouched,
and each one called alone runs its own kernels. A run is fused only when the result cannot be
told apart from running the layers one by one:

* no child in the run has a hook (a hook must see its own layer's input and output, which the
  fused kernel never materialises), so registering any hook on one of them simply turns the
  fusion off for that run;
* the configuration is the one the kernel implements (``MaxPool2d(2)`` with stride 2, no
  padding, dilation 1, no ceil mode, no indices; ``padding_mode='zeros'``);
* the input is what the first layer accepts (a batched array of its dtype and channel count);
  anything else runs the layers one by one, so the first layer raises its usual error.

After a fused forward, the children's own caches are empty: backpropagate through the
``Sequential`` (as one does), not through a child alone.
"""

from __future__ import annotations

import numpy as np

from minicnn import debug
from minicnn.functional._shapes import pair
from minicnn.nn._checks import check_backward_ready, check_finite
from minicnn.nn.activation import ReLU
from minicnn.nn.conv import Conv2d
from minicnn.nn.linear import Linear
from minicnn.nn.pooling import MaxPool2d

__all__ = ["ConvReLUMaxPool", "LinearReLU", "plan_steps"]


def _has_hooks(module) -> bool:
    return bool(module._forward_pre_hooks or module._forward_hooks or module._backward_hooks)


def _accumulate(param, grad) -> None:
    if param is not None and param.requires_grad:
        param.accumulate_grad(grad)


class ConvReLUMaxPool:
    """``MaxPool2d(2)(ReLU()(Conv2d(...)(x)))`` as one fused step of a Sequential."""

    def __init__(self, conv: Conv2d, relu: ReLU, pool: MaxPool2d):
        self.conv, self.relu, self.pool = conv, relu, pool
        self._unfused = False  # the last forward ran the three layers one by one
        self._cache = None  # the kernel's ConvReLUMaxPoolCache of the last fused forward

    @staticmethod
    def matches(modules) -> bool:
        """Whether these three modules form a run this step can fuse."""
        if len(modules) < 3:
            return False
        conv, relu, pool = modules[:3]
        return (type(conv) is Conv2d and type(relu) is ReLU and type(pool) is MaxPool2d
                and not any(_has_hooks(m) for m in (conv, relu, pool))
                and conv.padding_mode == "zeros"
                and pair(pool.kernel_size, "kernel_size") == (2, 2)
                and pair(pool.stride, "stride") == (2, 2)
                and pair(pool.padding, "padding") == (0, 0)
                and pair(pool.dilation, "dilation") == (1, 1)
                and not pool.ceil_mode and not pool.return_indices)

    def _accepts(self, x) -> bool:
        conv = self.conv
        if not (isinstance(x, np.ndarray) and x.ndim == 4 and x.dtype == conv.weight.dtype
                and x.shape[1] == conv.in_channels):
            return False
        top, bottom, left, right = conv._padding_sides
        extent_h = conv.dilation[0] * (conv.kernel_size[0] - 1) + 1
        extent_w = conv.dilation[1] * (conv.kernel_size[1] - 1) + 1
        if x.shape[2] + top + bottom < extent_h or x.shape[3] + left + right < extent_w:
            return False  # the kernel does not fit: Conv2d raises the error
        out_h, out_w = conv.output_size(x.shape[2], x.shape[3])
        return out_h >= 2 and out_w >= 2  # else MaxPool2d raises the error

    def forward(self, x):
        self._unfused = not self._accepts(x)
        if self._unfused:
            return self.pool(self.relu(self.conv(x)))
        from minicnn.kernels import fused

        conv = self.conv
        if debug._enabled:
            check_finite(conv, "input", x)
        bias = None if conv.bias is None else conv.bias.data
        pooled, self._cache = fused.conv2d_relu_maxpool2d(
            x, conv.weight.data, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        return pooled

    __call__ = forward

    def backward(self, grad_output):
        if self._unfused:
            return self.conv.backward(self.relu.backward(self.pool.backward(grad_output)))
        from minicnn.kernels import fused

        cache = self._cache
        conv = self.conv
        check_backward_ready(self.pool, cache, grad_output,
                             cache.winners.shape if cache is not None else (), conv.weight.dtype)
        grad_input, grad_weight, grad_bias = fused.conv2d_relu_maxpool2d_backward(
            grad_output, conv.weight.data, conv.groups, cache, input_grad=conv.needs_input_grad)
        _accumulate(conv.weight, grad_weight)
        _accumulate(conv.bias, grad_bias)
        self._cache = None
        return grad_input


class LinearReLU:
    """``ReLU()(Linear(...)(x))`` as one fused step of a Sequential."""

    def __init__(self, linear: Linear, relu: ReLU):
        self.linear, self.relu = linear, relu
        self._unfused = False
        self._cache = None  # (input, output) of the last fused forward

    @staticmethod
    def matches(modules) -> bool:
        if len(modules) < 2:
            return False
        linear, relu = modules[:2]
        return (type(linear) is Linear and type(relu) is ReLU
                and not _has_hooks(linear) and not _has_hooks(relu))

    def forward(self, x):
        linear = self.linear
        self._unfused = not (isinstance(x, np.ndarray) and x.ndim == 2
                             and x.dtype == linear.weight.dtype
                             and x.shape[1] == linear.in_features and x.shape[1] > 0)
        if self._unfused:
            return self.relu(self.linear(x))
        from minicnn.kernels import fused

        if debug._enabled:
            check_finite(linear, "input", x)
        bias = None if linear.bias is None else linear.bias.data
        output = fused.linear_relu(x, linear.weight.data, bias)
        self._cache = (x, output)
        return output

    __call__ = forward

    def backward(self, grad_output):
        if self._unfused:
            return self.linear.backward(self.relu.backward(grad_output))
        from minicnn.kernels import fused

        output = self._cache[1] if self._cache is not None else None
        check_backward_ready(self.relu, self._cache, grad_output,
                             output.shape if output is not None else (), self.linear.weight.dtype)
        x, output = self._cache
        linear = self.linear
        grad_input, grad_weight, grad_bias = fused.linear_relu_backward(
            grad_output, x, linear.weight.data, output, linear.bias is not None)
        _accumulate(linear.weight, grad_weight)
        _accumulate(linear.bias, grad_bias)
        self._cache = None
        return grad_input


_FUSIONS = (ConvReLUMaxPool, LinearReLU)
_RUN_LENGTH = {ConvReLUMaxPool: 3, LinearReLU: 2}


def plan_steps(modules: list) -> list:
    """The forward steps for this list of children: fusable runs grouped, others alone.

    Each step has ``forward(x)`` and ``backward(grad_output)``: a module, or a fused step
    holding the modules of its run.
    """
    steps, index = [], 0
    while index < len(modules):
        for fusion in _FUSIONS:
            run = modules[index:index + _RUN_LENGTH[fusion]]
            if fusion.matches(run):
                steps.append(fusion(*run))
                index += len(run)
                break
        else:
            steps.append(modules[index])
            index += 1
    return steps
