"""Linear (fully connected) layer and Identity."""

from __future__ import annotations

import math

import numpy as np

from minicnn.kernels import backend
from minicnn.nn import init
from minicnn.nn._checks import check_backward_ready, check_input, layer_name
from minicnn.nn.module import Module
from minicnn.nn.parameter import Parameter

__all__ = ["Identity", "Linear"]

# Linear accepts (*, in_features) with any number of leading dimensions, but not a 0-D input.
_AT_LEAST_1D = range(1, 65)


def _check_feature_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Linear: {name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"Linear: {name} must be non-negative, got {value}")


class Identity(Module):
    """A placeholder that returns its input; any constructor arguments are ignored.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same array.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()
        self._output_shape: tuple[int, ...] | None = None
        self._output_dtype: np.dtype | None = None  # None for a non-array input

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._output_shape = np.shape(x)
        self._output_dtype = x.dtype if isinstance(x, np.ndarray) else None
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        check_backward_ready(self, self._output_shape, grad_output, self._output_shape or (),
                             self._output_dtype)
        self._output_shape = self._output_dtype = None
        return grad_output


class Linear(Module):
    """``y = x W^T + b``, applied to the last dimension of the input.

    Args:
        in_features: size of each input sample's last dimension.
        out_features: size of each output sample's last dimension.
        bias: if False, the layer learns no additive bias (``self.bias`` is None).
        dtype: the parameters' dtype, float32 (default) or float64.

    Shape:
        - Input: ``(*, in_features)``, any number of leading dimensions (including none).
        - Output: ``(*, out_features)``.

    Attributes:
        weight: ``(out_features, in_features)``, initialised from ``U(-k, k)`` with
            ``k = 1 / sqrt(in_features)`` (``kaiming_uniform_`` with ``a = sqrt(5)``, as PyTorch).
        bias: ``(out_features,)``, from ``U(-k, k)`` with the same ``k``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        _check_feature_count("in_features", in_features)
        _check_feature_count("out_features", out_features)
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"Linear: dtype must be float32 or float64, got {dtype}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype))
        else:
            self.register_parameter("bias", None)
        self._input: np.ndarray | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weight and bias as PyTorch's ``Linear.reset_parameters`` does."""
        # a = sqrt(5) gives gain sqrt(2 / 6) and bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if isinstance(x, np.ndarray) and x.ndim == 0:
            raise ValueError(f"{layer_name(self)}: expected input with at least 1 dimension "
                             f"(*, {self.in_features}), got a 0D input")
        check_input(self, x, ndims=_AT_LEAST_1D, dtype=self.weight.dtype)
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"{layer_name(self)}: expected input with last dimension {self.in_features}, "
                f"got {x.shape[-1]} (input shape {x.shape})"
            )
        self._input = x
        bias = self.bias.data if self.bias is not None else None
        return backend("linear").linear(x, self.weight.data, bias)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        x = self._input
        expected = x.shape[:-1] + (self.out_features,) if x is not None else ()
        check_backward_ready(self, x, grad_output, expected, self.weight.dtype)
        grad_input, grad_weight, grad_bias = backend("linear").linear_backward(
            grad_output, x, self.weight.data, self.bias is not None
        )
        self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        self._input = None
        return grad_input

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
