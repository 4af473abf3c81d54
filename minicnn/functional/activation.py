"""Element-wise activations and (log-)softmax, forward and backward, on NumPy arrays.

Every forward has ``torch.nn.functional``'s signature; every ``<op>_backward`` turns the
gradient of the output into the gradient of the input, from the smallest thing the forward
can leave behind:

============== ===================================== =========================================
op             backward needs                        grad_input
============== ===================================== =========================================
relu           where ``x > 0`` (input, output or     ``grad_output * [x > 0]``
               a boolean mask)
leaky_relu     where ``x > 0``                       ``grad_output * (1 if x > 0 else slope)``
sigmoid        the output ``y``                      ``grad_output * y * (1 - y)``
tanh           the output ``y``                      ``grad_output * (1 - y^2)``
softmax        the output ``y``                      ``y * (g - sum(g * y, dim))``
log_softmax    the output ``y = log softmax(x)``     ``g - exp(y) * sum(g, dim)``
gelu           the input ``x``                       ``g * (Phi(x) + x * phi(x))`` (exact)
silu           the input ``x``                       ``g * s * (1 + x * (1 - s))``, ``s =
                                                     sigmoid(x)``
============== ===================================== =========================================

Shapes: any ``(*)`` in, the same ``(*)`` out; the dtype (float32 or float64) is kept.
Gradients at a kink follow PyTorch: ReLU's derivative at exactly 0 is 0, LeakyReLU's is the
slope (both test ``x > 0``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = [
    "GELU_APPROXIMATIONS",
    "gelu",
    "gelu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "log_softmax",
    "log_softmax_backward",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "silu",
    "silu_backward",
    "softmax",
    "softmax_backward",
    "softmax_dim",
    "tanh",
    "tanh_backward",
]


def relu(x: np.ndarray, inplace: bool = False) -> np.ndarray:
    """``max(x, 0)`` element-wise; with ``inplace`` the result is written into ``x``."""
    return np.maximum(x, 0, out=x if inplace else None)


def relu_backward(grad_output: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Gradient of :func:`relu`: ``grad_output`` where the forward was positive, else 0.

    ``output`` is ``relu(x)``, or ``x`` itself, or the boolean mask ``x > 0``: all three are
    positive at the same places, so a layer may keep whichever is cheapest.
    """
    return grad_output * (output > 0)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01, inplace: bool = False) -> np.ndarray:
    """``x`` where ``x > 0``, else ``negative_slope * x``; ``inplace`` writes into ``x``."""
    slope = np.asarray(negative_slope, dtype=x.dtype)
    if inplace:
        return np.multiply(x, slope, out=x, where=~(x > 0))
    return np.where(x > 0, x, x * slope)


def leaky_relu_backward(grad_output: np.ndarray, x: np.ndarray,
                        negative_slope: float = 0.01) -> np.ndarray:
    """Gradient of :func:`leaky_relu`: ``grad_output`` where ``x > 0``, else times the slope.

    ``x`` is the forward input or the boolean mask ``x > 0``. Not the output: with a negative
    slope the output is positive where ``x`` was negative, so its sign says nothing.
    """
    slope = np.asarray(negative_slope, dtype=grad_output.dtype)
    return np.where(x > 0, grad_output, grad_output * slope)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, evaluated without overflow for large ``|x|``.

    ``exp(-|x|)`` is at most 1, so neither branch overflows: for ``x >= 0`` the formula is used
    as written, for ``x < 0`` its equal form ``exp(x) / (1 + exp(x))``.
    """
    decay = np.exp(-np.abs(x))
    one = np.ones((), dtype=x.dtype)
    return np.where(x >= 0, one / (one + decay), decay / (one + decay))


def sigmoid_backward(grad_output: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Gradient of :func:`sigmoid` from its output ``y``: ``grad_output * y * (1 - y)``."""
    return grad_output * output * (1 - output)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, element-wise."""
    return np.tanh(x)


def tanh_backward(grad_output: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Gradient of :func:`tanh` from its output ``y``: ``grad_output * (1 - y^2)``."""
    return grad_output * (1 - output * output)


GELU_APPROXIMATIONS = ("none", "tanh")
"""The ``approximate`` values of ``torch.nn.GELU``."""

# sqrt(2/pi) and the cubic coefficient of the tanh approximation (Hendrycks and Gimpel, 2016).
_TANH_SCALE = math.sqrt(2.0 / math.pi)
_TANH_CUBIC = 0.044715


def _check_approximate(approximate, owner: str) -> None:
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"{owner}: approximate argument must be either none or tanh, got "
                         f"{approximate!r}")


def _erf(x: np.ndarray) -> np.ndarray:
    # SciPy's erf, imported on first use so that `import minicnn` stays fast (NumPy has none).
    from scipy.special import erf

    return erf(x)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """Gaussian Error Linear Unit: ``x * Phi(x)``, ``Phi`` the standard normal's CDF.

    ``approximate='none'``: ``0.5 * x * (1 + erf(x / sqrt(2)))``, exact.
    ``approximate='tanh'``: ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``, the
    approximation of the original paper (and of BERT and GPT-2).
    """
    _check_approximate(approximate, "gelu")
    half = np.asarray(0.5, x.dtype)
    if approximate == "tanh":
        inner = _TANH_SCALE * (x + _TANH_CUBIC * x * x * x)
        return half * x * (1 + np.tanh(inner))
    return half * x * (1 + _erf(x * np.asarray(math.sqrt(0.5), x.dtype)))


def gelu_backward(grad_output: np.ndarray, x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """Gradient of :func:`gelu` from its input ``x``.

    Exact: ``d/dx x Phi(x) = Phi(x) + x phi(x)``, with ``phi(x) = exp(-x^2/2) / sqrt(2 pi)``
    the normal density. ``'tanh'``: with ``t = tanh(u)``, ``u = sqrt(2/pi) (x + 0.044715
    x^3)``, the derivative of ``0.5 x (1 + t)`` is ``0.5 (1 + t) + 0.5 x (1 - t^2) du/dx``
    and ``du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)``.
    """
    _check_approximate(approximate, "gelu_backward")
    half = np.asarray(0.5, x.dtype)
    if approximate == "tanh":
        x_squared = x * x
        t = np.tanh(_TANH_SCALE * (x + _TANH_CUBIC * x_squared * x))
        d_inner = _TANH_SCALE * (1 + 3 * _TANH_CUBIC * x_squared)
        return grad_output * (half * (1 + t) + half * x * (1 - t * t) * d_inner)
    cdf = half * (1 + _erf(x * np.asarray(math.sqrt(0.5), x.dtype)))
    density = np.exp(-half * x * x) * np.asarray(1 / math.sqrt(2 * math.pi), x.dtype)
    return grad_output * (cdf + x * density)


def silu(x: np.ndarray, inplace: bool = False) -> np.ndarray:
    """Sigmoid Linear Unit (swish): ``x * sigmoid(x)``; ``inplace`` writes into ``x``."""
    return np.multiply(x, sigmoid(x), out=x if inplace else None)


def silu_backward(grad_output: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`silu` from its input ``x``: with ``s = sigmoid(x)``,
    ``d/dx x s = s + x s (1 - s) = s (1 + x (1 - s))``."""
    s = sigmoid(x)
    return grad_output * s * (1 + x * (1 - s))


def softmax_dim(name: str, ndim: int, dim: int | None, stacklevel: int = 3) -> int:
    """The axis a (log-)softmax normalises over, as a non-negative index.

    ``dim=None`` follows PyTorch's deprecated implicit rule (axis 0 for 0-, 1- and 3-D inputs,
    else axis 1: written for ``(C,)``, ``(C, H, W)`` and ``(N, C, ...)``) and warns as PyTorch
    does. An out-of-range ``dim`` raises ``ValueError`` naming ``name`` (the op or layer).
    A 0-D array counts as 1-D, as in PyTorch (dim 0 or -1).
    """
    if dim is None:
        warnings.warn(
            f"Implicit dimension choice for {name} has been deprecated. "
            "Change the call to include dim=X as an argument.",
            UserWarning,
            stacklevel=stacklevel,
        )
        return 0 if ndim in (0, 1, 3) else 1
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: dim must be an int or None, got {dim!r}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise ValueError(
            f"{name}: dim {dim} is out of range for a {ndim}D input "
            f"(expected a dim in [{-rank}, {rank - 1}])"
        )
    return int(dim) % rank


def softmax(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    """``exp(x) / sum(exp(x), dim)``, after subtracting the max along ``dim``.

    Subtracting the max changes nothing mathematically (it cancels between numerator and
    denominator) but keeps every ``exp`` at most 1, so large inputs do not overflow.
    """
    axis = softmax_dim("softmax", x.ndim, dim)
    if x.size == 0:
        return x.copy()  # nothing to normalise (and max() of an empty axis would raise)
    x_view = x.reshape(1) if x.ndim == 0 else x
    shifted = x_view - x_view.max(axis=axis, keepdims=True)
    exps = np.exp(shifted)
    out = exps / exps.sum(axis=axis, keepdims=True)
    return out.reshape(x.shape)


def softmax_backward(grad_output: np.ndarray, output: np.ndarray, dim: int) -> np.ndarray:
    """Gradient of :func:`softmax` from its output ``y``: ``y * (g - sum(g * y, dim))``.

    This is the Jacobian ``diag(y) - y y^T`` applied to ``g`` without building it. ``dim`` must
    be the axis the forward used (after resolving ``None``).
    """
    axis = softmax_dim("softmax_backward", output.ndim, dim)
    g = grad_output.reshape(1) if output.ndim == 0 else grad_output
    y = output.reshape(1) if output.ndim == 0 else output
    grad_input = y * (g - (g * y).sum(axis=axis, keepdims=True))
    return grad_input.reshape(output.shape)


def log_softmax(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    """``x - log(sum(exp(x), dim))``, computed as ``shifted - log(sum(exp(shifted)))``.

    ``shifted = x - max(x, dim)``: the log-sum-exp trick, exact and overflow-free, and more
    accurate than ``log(softmax(x))`` where a probability underflows to 0.
    """
    axis = softmax_dim("log_softmax", x.ndim, dim)
    if x.size == 0:
        return x.copy()  # nothing to normalise (and max() of an empty axis would raise)
    x_view = x.reshape(1) if x.ndim == 0 else x
    shifted = x_view - x_view.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return out.reshape(x.shape)


def log_softmax_backward(grad_output: np.ndarray, output: np.ndarray, dim: int) -> np.ndarray:
    """Gradient of :func:`log_softmax` from its output ``y``: ``g - exp(y) * sum(g, dim)``.

    ``exp(y)`` is the softmax, so no forward input is needed.
    """
    axis = softmax_dim("log_softmax_backward", output.ndim, dim)
    g = grad_output.reshape(1) if output.ndim == 0 else grad_output
    y = output.reshape(1) if output.ndim == 0 else output
    grad_input = g - np.exp(y) * g.sum(axis=axis, keepdims=True)
    return grad_input.reshape(output.shape)
