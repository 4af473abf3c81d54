"""Dropout and Dropout2d: inverted dropout in training, the identity in evaluation."""

from __future__ import annotations

import numpy as np

from minicnn.functional.dropout import (
    apply_dropout_mask,
    check_dropout_p,
    dropout2d_mask,
    dropout_backward,
    dropout_mask,
    warn_unless_image_rank,
)
from minicnn.nn._checks import check_backward_ready, check_input, layer_name
from minicnn.nn.module import Module

__all__ = ["Dropout", "Dropout2d"]

_ANY_RANK = range(0, 65)


class _DropoutNd(Module):
    """What Dropout and Dropout2d share: the arguments, the mask kept for the backward, and
    the identity in evaluation. Subclasses say which elements share one draw (``_mask``)."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *,
                 generator: np.random.Generator | None = None):
        super().__init__()
        name = type(self).__name__
        check_dropout_p(p, name)
        if not isinstance(inplace, (bool, np.bool_)):
            raise TypeError(f"{name}: inplace must be a bool, got {inplace!r}")
        self.p = p
        self.inplace = inplace
        self.generator = generator
        self._output_shape: tuple[int, ...] | None = None  # set by every forward
        self._output_dtype: np.dtype | None = None
        self._keep: np.ndarray | None = None  # the training mask; None means identity

    def _check_rank(self, x: np.ndarray) -> None:
        """Called by every forward after the input checks; Dropout2d warns about ranks."""

    def _mask(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, ndims=_ANY_RANK)
        self._check_rank(x)
        self._output_shape, self._output_dtype = x.shape, x.dtype
        if not self.training or self.p == 0:
            self._keep = None
            return x
        self._keep = self._mask(x)
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


class Dropout(_DropoutNd):
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

    def _mask(self, x: np.ndarray) -> np.ndarray:
        return dropout_mask(x.shape, self.p, self.generator)


class Dropout2d(_DropoutNd):
    """In training, zero each whole channel with probability ``p`` and scale the kept ones by
    ``1/(1-p)``; in evaluation, the identity.

    One draw per ``(sample, channel)``: a feature map is kept or zeroed as a whole. When
    neighbouring pixels are strongly correlated, as in the feature maps of early
    convolutions, dropping single pixels barely regularises; dropping whole maps does
    (Tompson et al., 2015). The backward multiplies ``grad_output`` by the same channel mask.

    Args:
        p: probability of zeroing a channel, in ``[0, 1]`` (default 0.5).
        inplace: in training, write the result into the input array (as PyTorch does).
        generator: keyword-only, not in PyTorch: as for :class:`Dropout`.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``. Output: the same shape and dtype.

        PyTorch 2.13 reads a 3D input as ``(N, C, L)`` (dropping rows of length ``L``) and
        warns that this will change to ``(C, H, W)``; minicnn reads it as an unbatched
        ``(C, H, W)`` already, as its :class:`~minicnn.nn.Conv2d` does. Other ranks of at
        least 2 are read as ``(N, C, *)`` with PyTorch's deprecation warning; fewer than 2
        raise ``ValueError`` in training (there is no channel to drop) unless ``p`` is 0 or 1.

    Example::

        >>> drop = Dropout2d(0.2)
        >>> drop(np.ones((8, 16, 5, 5), np.float32)).shape
        (8, 16, 5, 5)
    """

    def _check_rank(self, x: np.ndarray) -> None:
        # Four frames up: this method, forward, Module.__call__, the user's line.
        warn_unless_image_rank(x.ndim, layer_name(self), stacklevel=4)

    def _mask(self, x: np.ndarray) -> np.ndarray:
        return dropout2d_mask(x.shape, self.p, self.generator, layer_name(self))
