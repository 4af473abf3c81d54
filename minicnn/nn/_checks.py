"""Input and argument checks shared by every layer, so errors read as sentences.

Each message names the layer (its one-line repr), what it expected and what it got, as
PyTorch's do: ``Conv2d(3, 4, kernel_size=(3, 3)): expected input with 3 channels, got 1
(input shape (2, 1, 8, 8))``.

The checks cost a few attribute reads per call, never a pass over the data, except in debug
mode (:func:`minicnn.set_debug`), where inputs and gradients are also checked for NaN/Inf.
"""

from __future__ import annotations

import numpy as np

from minicnn import debug
from minicnn.debug import NonFiniteError

__all__ = [
    "check_backward_ready",
    "check_finite",
    "check_input",
    "check_non_empty",
    "check_positive_int",
    "layer_name",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def layer_name(module) -> str:
    """The module's repr when it fits on one line, else its class name."""
    text = repr(module)
    return text if "\n" not in text else type(module).__name__


def check_positive_int(module_name: str, name: str, value, minimum: int = 1) -> None:
    """Raise unless every entry of ``value`` (an int or a tuple of ints) is ``>= minimum``."""
    values = value if isinstance(value, tuple) else (value,)
    if any(v < minimum for v in values):
        bound = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{module_name}: {name} must be {bound}, got {value!r}")


def check_input(module, x, ndims: tuple[int, ...], channels: int | None = None,
                channel_axis: int = 1, dtype: np.dtype | None = None) -> None:
    """Check an input's type, floating dtype, rank and (optionally) channel count.

    ``dtype`` is the dtype the layer's parameters have; an input of another float dtype is
    refused rather than silently upcast or downcast.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer_name(module)}: expected a numpy.ndarray input, "
                        f"got {type(x).__name__}")
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{layer_name(module)}: expected a float32 or float64 input, "
                        f"got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{layer_name(module)}: input dtype {x.dtype} does not match the parameters' dtype "
            f"{dtype}; convert the input with .astype(np.{dtype}) or the layer with "
            f"{'.double()' if x.dtype == np.float64 else '.float()'}"
        )
    if x.ndim not in ndims:
        expected = " or ".join(f"{n}D" for n in ndims)
        raise ValueError(f"{layer_name(module)}: expected {expected} input, got {x.ndim}D "
                         f"input of shape {x.shape}")
    if channels is not None and x.shape[channel_axis] != channels:
        raise ValueError(f"{layer_name(module)}: expected input with {channels} channels, got "
                         f"{x.shape[channel_axis]} (input shape {x.shape})")
    if debug._enabled:
        check_finite(module, "input", x)


def check_non_empty(module, x: np.ndarray, batched_ndim: int) -> None:
    """Refuse a zero-sized dimension other than the batch (axis 0 of a batched input), as
    PyTorch does for pooling: an empty image has no windows to pool."""
    first = 1 if x.ndim == batched_ndim else 0
    if 0 in x.shape[first:]:
        raise ValueError(f"{layer_name(module)}: expected an input whose dimensions are all "
                         f"non-zero (except the batch), got shape {x.shape}")


def check_finite(module, what: str, x: np.ndarray) -> None:
    """Raise :class:`NonFiniteError` if ``x`` holds NaN or infinite values.

    The message counts them and gives the index of the first, so a learner can look at it.
    """
    if x.dtype.kind != "f" or np.isfinite(x).all():
        return
    nan = np.isnan(x)
    first = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
    raise NonFiniteError(
        f"{layer_name(module)}: {what} of shape {x.shape} holds {int(nan.sum())} NaN and "
        f"{int(np.isinf(x).sum())} infinite values (the first at index {first})"
    )


def check_backward_ready(module, cached, grad_output, expected_shape: tuple[int, ...],
                         dtype: np.dtype | None = None) -> None:
    """Check that a forward has run since the last backward and that ``grad_output`` fits it.

    Layers free their forward cache at the end of ``backward`` (as PyTorch frees its graph),
    so a second backward for one forward lands here too. ``dtype`` is the forward output's:
    a gradient of another dtype is refused rather than silently cast (a float64 gradient
    would turn the rest of a float32 backward pass into float64).
    """
    if cached is None:
        raise RuntimeError(
            f"{layer_name(module)}: backward() called before forward(), or twice for one "
            "forward (backward frees what forward cached; run forward again)"
        )
    if not isinstance(grad_output, np.ndarray):
        raise TypeError(f"{layer_name(module)}: expected grad_output as a numpy.ndarray, "
                        f"got {type(grad_output).__name__}")
    if grad_output.shape != tuple(expected_shape):
        raise ValueError(
            f"{layer_name(module)}: expected grad_output of shape {tuple(expected_shape)} "
            f"(the forward output's shape), got {grad_output.shape}"
        )
    if dtype is not None and grad_output.dtype != dtype:
        raise TypeError(f"{layer_name(module)}: expected grad_output of dtype {dtype} (the "
                        f"output's), got {grad_output.dtype}")
    if debug._enabled:
        check_finite(module, "grad_output", grad_output)
