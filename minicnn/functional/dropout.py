"""Inverted dropout on NumPy arrays: zero each element with probability ``p``, scale the rest.

In training each element is kept with probability ``1 - p`` and multiplied by
``1 / (1 - p)``, so every element's expected value is unchanged and evaluation needs no
rescaling (the identity). Dropout is a fixed element-wise multiplication once the mask is
drawn, so its backward is the same multiplication applied to ``grad_output``: the layer keeps
the mask from its forward. Shapes: any ``(*)`` in, the same ``(*)`` out, dtype kept.
"""

from __future__ import annotations

import numpy as np

from minicnn.random import default_generator

__all__ = ["apply_dropout_mask", "check_dropout_p", "dropout", "dropout_backward", "dropout_mask"]


def check_dropout_p(p, owner: str = "dropout") -> None:
    """Raise unless ``p`` is a real number in ``[0, 1]`` (PyTorch's message, prefixed by owner)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: dropout probability must be a number, got {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"{owner}: dropout probability has to be between 0 and 1, but got {p}")


def dropout_mask(shape: tuple[int, ...], p: float,
                 generator: np.random.Generator | None = None) -> np.ndarray:
    """A boolean keep-mask of ``shape``: each entry True with probability ``1 - p``.

    Drawn from ``generator``, or :func:`minicnn.random.default_generator` when it is None.
    """
    rng = default_generator() if generator is None else generator
    # random() is uniform on [0, 1): "< 1 - p" is never true for p = 1 and always for p = 0.
    return rng.random(shape) < 1 - p


def apply_dropout_mask(x: np.ndarray, keep: np.ndarray, p: float,
                       inplace: bool = False) -> np.ndarray:
    """``x * keep / (1 - p)`` (zeros when ``p == 1``) in ``x``'s dtype; ``inplace`` writes to x."""
    scale = np.asarray(0.0 if p == 1 else 1.0 / (1.0 - p), dtype=x.dtype)
    return np.multiply(x, keep * scale, out=x if inplace else None)


def dropout(x: np.ndarray, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: np.random.Generator | None = None) -> np.ndarray:
    """``torch.nn.functional.dropout``: inverted dropout in training, ``x`` itself otherwise.

    Draws a fresh mask each call; a layer that needs the backward keeps the mask from
    :func:`dropout_mask` and calls :func:`apply_dropout_mask` and :func:`dropout_backward`.
    """
    check_dropout_p(p)
    if not training or p == 0:
        return x
    return apply_dropout_mask(x, dropout_mask(x.shape, p, generator), p, inplace)


def dropout_backward(grad_output: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """Gradient of dropout with the forward's mask: ``grad_output * keep / (1 - p)``."""
    return apply_dropout_mask(grad_output, keep, p)
