"""Flatten: merge a range of dimensions into one; its backward reshapes back."""

from __future__ import annotations

import math

import numpy as np

from minicnn.nn._checks import check_backward_ready, check_input, layer_name
from minicnn.nn.module import Module

__all__ = ["Flatten"]

_ANY_RANK = range(0, 65)


class Flatten(Module):
    """Merge dimensions ``start_dim`` to ``end_dim`` (inclusive) into one.

    Only the shape changes: the output is a view of the input (as in PyTorch), so the
    backward just reshapes ``grad_output`` to the input's shape.

    Args:
        start_dim: first dimension to merge (default 1, keeping the batch dimension).
        end_dim: last dimension to merge (default -1, the last).

    Shape:
        - Input: ``(*, S_start, ..., S_end, *)``.
        - Output: ``(*, S_start * ... * S_end, *)``; e.g. ``(N, C, H, W) -> (N, C*H*W)``.
          A 0-D input counts as 1-D, as in PyTorch.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"Flatten: {name} must be an int, got {value!r}")
        self.start_dim = start_dim
        self.end_dim = end_dim
        self._input_shape: tuple[int, ...] | None = None
        self._output_shape: tuple[int, ...] | None = None
        self._output_dtype: np.dtype | None = None

    def _axes(self, x: np.ndarray) -> tuple[int, int]:
        rank = max(x.ndim, 1)
        axes = []
        for name, dim in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -rank <= dim < rank:
                raise ValueError(
                    f"{layer_name(self)}: {name}={dim} is out of range for a {x.ndim}D input "
                    f"of shape {x.shape} (expected a dim in [{-rank}, {rank - 1}])"
                )
            axes.append(dim % rank)
        start, end = axes
        if start > end:
            raise ValueError(
                f"{layer_name(self)}: start_dim cannot come after end_dim for a {x.ndim}D "
                f"input of shape {x.shape} (they resolve to {start} and {end})"
            )
        return start, end

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        start, end = self._axes(x)
        shape = x.shape if x.ndim > 0 else (1,)
        output_shape = shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]
        self._input_shape, self._output_shape = x.shape, output_shape
        self._output_dtype = x.dtype
        return x.reshape(output_shape)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        input_shape = self._input_shape
        check_backward_ready(self, input_shape, grad_output, self._output_shape or (),
                             self._output_dtype)
        self._input_shape = self._output_shape = None
        return grad_output.reshape(input_shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
