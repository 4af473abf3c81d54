"""Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, Softmax, LogSoftmax.

Each layer keeps the least its backward needs (see :mod:`minicnn.functional.activation`):
a boolean mask ``x > 0`` for ReLU and LeakyReLU, the output for Sigmoid, Tanh, Softmax and
LogSoftmax, the input for GELU and SiLU. All accept float32 or float64 input of any shape
``(*)`` and return the same shape and dtype.

``inplace=True`` (ReLU, LeakyReLU, SiLU) does what PyTorch's does: the result is written into
the input array, which is returned, saving one array of memory. The mask is taken before the
input is overwritten, so gradients stay correct (SiLU keeps a copy of its input instead, so
it saves nothing). As in PyTorch, this is only safe when nothing
else still needs the input's old values, e.g. a preceding Tanh that kept its output for its
own backward; PyTorch detects that misuse with version counters, minicnn cannot, so the
default ``inplace=False`` never touches the input.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional import activation as F
from minicnn.kernels import backend
from minicnn.nn._checks import check_backward_ready, check_input, layer_name
from minicnn.nn.module import Module

__all__ = ["GELU", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid", "Softmax", "Tanh"]

# Element-wise layers accept any rank, including 0-D scalars as PyTorch does.
_ANY_RANK = range(0, 65)


def _check_bool(module_name: str, name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{module_name}: {name} must be a bool, got {value!r}")


class ReLU(Module):
    """``ReLU(x) = max(0, x)`` element-wise; the gradient at exactly 0 is 0, as in PyTorch.

    Args:
        inplace: write the result into the input array (see the module docstring).

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        _check_bool("ReLU", "inplace", inplace)
        self.inplace = inplace
        self._positive: np.ndarray | None = None  # x > 0, taken before any in-place write
        self._output_dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        self._positive = x > 0
        self._output_dtype = x.dtype
        return backend("activation").relu(x, inplace=self.inplace)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        positive = self._positive
        check_backward_ready(self, positive, grad_output,
                             positive.shape if positive is not None else (), self._output_dtype)
        self._positive = None
        return backend("activation").relu_backward(grad_output, positive)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``LeakyReLU(x) = x if x > 0 else negative_slope * x`` element-wise.

    Args:
        negative_slope: the slope for ``x <= 0`` (default 0.01); any real number.
        inplace: write the result into the input array (see the module docstring).

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(
            negative_slope, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, got {negative_slope!r}")
        _check_bool("LeakyReLU", "inplace", inplace)
        self.negative_slope = negative_slope
        self.inplace = inplace
        self._positive: np.ndarray | None = None  # x > 0, taken before any in-place write
        self._output_dtype: np.dtype | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        self._positive = x > 0
        self._output_dtype = x.dtype
        return F.leaky_relu(x, self.negative_slope, inplace=self.inplace)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        positive = self._positive
        check_backward_ready(self, positive, grad_output,
                             positive.shape if positive is not None else (), self._output_dtype)
        self._positive = None
        return F.leaky_relu_backward(grad_output, positive, self.negative_slope)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace}"


class _OutputCachingActivation(Module):
    """An element-wise layer whose backward needs only its output ``y``."""

    def __init__(self):
        super().__init__()
        self._output: np.ndarray | None = None

    def _forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, grad_output: np.ndarray, output: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        self._output = self._forward(x)
        return self._output

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        output = self._output
        check_backward_ready(self, output, grad_output,
                             output.shape if output is not None else (),
                             output.dtype if output is not None else None)
        self._output = None
        return self._backward(grad_output, output)


class Sigmoid(_OutputCachingActivation):
    """``Sigmoid(x) = 1 / (1 + exp(-x))`` element-wise; backward ``g * y * (1 - y)``.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    def _forward(self, x):
        return F.sigmoid(x)

    def _backward(self, grad_output, output):
        return F.sigmoid_backward(grad_output, output)


class Tanh(_OutputCachingActivation):
    """``Tanh(x)`` element-wise; backward ``g * (1 - y^2)``.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    def _forward(self, x):
        return F.tanh(x)

    def _backward(self, grad_output, output):
        return F.tanh_backward(grad_output, output)


class _InputCachingActivation(Module):
    """An element-wise layer whose backward needs its input ``x`` (GELU, SiLU)."""

    inplace = False  # an in-place subclass overwrites x, so it keeps a copy for the backward

    def __init__(self):
        super().__init__()
        self._input: np.ndarray | None = None

    def _forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, grad_output: np.ndarray, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        self._input = x.copy() if self.inplace else x
        return self._forward(x)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        x = self._input
        check_backward_ready(self, x, grad_output, x.shape if x is not None else (),
                             x.dtype if x is not None else None)
        self._input = None
        return self._backward(grad_output, x)


class GELU(_InputCachingActivation):
    """``GELU(x) = x * Phi(x)``, ``Phi`` the standard normal CDF: the input weighted by the
    probability that a standard normal variable is below it (Hendrycks and Gimpel, 2016).

    Args:
        approximate: ``'none'`` (default) computes ``0.5 x (1 + erf(x / sqrt(2)))`` exactly;
            ``'tanh'`` the approximation ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in F.GELU_APPROXIMATIONS:
            raise ValueError(f"GELU: approximate argument must be either none or tanh, got "
                             f"{approximate!r}")
        self.approximate = approximate

    def _forward(self, x):
        return F.gelu(x, self.approximate)

    def _backward(self, grad_output, x):
        return F.gelu_backward(grad_output, x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_InputCachingActivation):
    """``SiLU(x) = x * sigmoid(x)`` element-wise (the "swish"); backward
    ``g * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``.

    Args:
        inplace: write the result into the input array (see the module docstring); the layer
            then keeps a copy of the input for its backward.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        _check_bool("SiLU", "inplace", inplace)
        self.inplace = inplace

    def _forward(self, x):
        return F.silu(x, inplace=self.inplace)

    def _backward(self, grad_output, x):
        return F.silu_backward(grad_output, x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class _SoftmaxBase(_OutputCachingActivation):
    """Softmax and LogSoftmax: a normalisation along ``dim``, with PyTorch's ``dim=None`` rule."""

    _op_name = ""

    def __init__(self, dim: int | None = None):
        super().__init__()
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
            raise TypeError(f"{type(self).__name__}: dim must be an int or None, got {dim!r}")
        self.dim = dim
        self._axis: int | None = None  # the resolved axis of the last forward

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        if self.dim is None:
            # Same warning and rule as PyTorch's implicit dim, once per forward as there.
            self._axis = F.softmax_dim(self._op_name, x.ndim, None, stacklevel=4)
        else:
            self._axis = F.softmax_dim(layer_name(self), x.ndim, self.dim)
        self._output = self._forward(x)
        return self._output

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """``Softmax(x)_i = exp(x_i) / sum_j exp(x_j)`` along ``dim``; each slice sums to 1.

    Args:
        dim: the axis to normalise. ``None`` is PyTorch's deprecated implicit choice (axis 0
            for 0-, 1- and 3-D inputs, else 1) and warns.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    _op_name = "softmax"

    def _forward(self, x):
        return F.softmax(x, self._axis)

    def _backward(self, grad_output, output):
        return F.softmax_backward(grad_output, output, self._axis)


class LogSoftmax(_SoftmaxBase):
    """``LogSoftmax(x)_i = x_i - log(sum_j exp(x_j))`` along ``dim`` (log-sum-exp stabilised).

    Args:
        dim: the axis to normalise; ``None`` as for :class:`Softmax`.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    _op_name = "log_softmax"

    def _forward(self, x):
        return F.log_softmax(x, self._axis)

    def _backward(self, grad_output, output):
        return F.log_softmax_backward(grad_output, output, self._axis)
