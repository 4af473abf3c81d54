"""Parameter: a learnable array and the gradient that backward accumulates into it."""

from __future__ import annotations

import numpy as np

__all__ = ["Parameter"]


class Parameter:
    """A learnable array, registered by a :class:`Module` when assigned as an attribute.

    Attributes:
        data: the values, an ``ndarray`` (float32 unless converted).
        grad: ``None`` until a backward pass; then an ``ndarray`` of the same shape and dtype
            as ``data``, holding the sum of every gradient accumulated since the last
            ``zero_grad()`` (gradients add, as in PyTorch, so a parameter used twice gets both).
        requires_grad: when ``False``, backward passes skip this parameter's gradient.
    """

    def __init__(self, data, requires_grad: bool = True):
        self.data = np.asarray(data)
        if not np.issubdtype(self.data.dtype, np.floating):
            self.data = self.data.astype(np.float32)
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad

    def accumulate_grad(self, grad: np.ndarray) -> None:
        """Add ``grad`` into ``self.grad`` (allocating it on first use)."""
        if not self.requires_grad:
            return
        if grad.shape != self.data.shape:
            raise ValueError(
                f"Parameter of shape {self.data.shape}: gradient has shape {grad.shape}"
            )
        if self.grad is None:
            self.grad = np.array(grad, dtype=self.data.dtype, copy=True)
        else:
            self.grad += grad

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def numel(self) -> int:
        return self.data.size

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter containing:\n{self.data!r}"
