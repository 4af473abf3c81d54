"""Dropout: inverted dropout in training, the identity in evaluation."""

from __future__ import annotations

import numpy as np

from minicnn.functional.dropout import (
    apply_dropout_mask,
    check_dropout_p,
    dropout_backward,
    dropout_mask,
)
from minicnn.nn._checks import check_backward_ready, check_input
from minicnn.nn.module import Module

__all__ = ["Dropout"]

_ANY_RANK = range(0, 65)


class Dropout(Module):
    """In training, zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    Scaling in training ("inverted" dropout) keeps each element's expected value, so in
    evaluation (``.eval()``) the layer is the identity and returns its input unchanged.
    ``p = 1`` zeros everything (and every gradient).

    Args:
        p: probability of zeroing an element, in ``[0, 1]`` (default 0.5).
        inplace: in training, write the result into the input array (as PyTorch does).
        generator: keyword-only, not in PyTorch: a ``numpy.random.Generator`` for the masks;
            None (default) uses :func:`minicnn.random.default_generator`, so
            ``minicnn.manual_seed`` makes the masks repeatable. Also settable as an attribute.

    Shape:
        - Input: ``(*)``, any shape. Output: ``(*)``, the same shape and dtype.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, *,
                 generator: np.random.Generator | None = None):
        super().__init__()
        check_dropout_p(p, "Dropout")
        if not isinstance(inplace, (bool, np.bool_)):
            raise TypeError(f"Dropout: inplace must be a bool, got {inplace!r}")
        self.p = p
        self.inplace = inplace
        self.generator = generator
        self._output_shape: tuple[int, ...] | None = None  # set by every forward
        self._output_dtype: np.dtype | None = None
        self._keep: np.ndarray | None = None  # the training mask; None means identity

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        self._output_shape, self._output_dtype = x.shape, x.dtype
        if not self.training or self.p == 0:
            self._keep = None
            return x
        self._keep = dropout_mask(x.shape, self.p, self.generator)
        return apply_dropout_mask(x, self._keep, self.p, inplace=self.inplace)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        check_backward_ready(self, self._output_shape, grad_output, self._output_shape or (),
                             self._output_dtype)
        keep = self._keep
        self._output_shape = None
        self._keep = None
        if keep is None:
            return grad_output
        return dropout_backward(grad_output, keep, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
