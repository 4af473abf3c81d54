"""Inverted dropout on NumPy arrays: zero each element with probability ``p``, scale the rest.

In training each element is kept with probability ``1 - p`` and multiplied by
``1 / (1 - p)``, so every element's expected value is unchanged and evaluation needs no
rescaling (the identity). Dropout is a fixed element-wise multiplication once the mask is
drawn, so its backward is the same multiplication applied to ``grad_output``: the layer keeps
the mask from its forward. Shapes: any ``(*)`` in, the same ``(*)`` out, dtype kept.

Channel dropout (:func:`dropout2d`) draws one keep-or-drop per channel instead of per element:
its mask has shape ``(N, C, 1, 1)`` and broadcasts over each feature map, so a channel is
kept or zeroed as a whole. Neighbouring pixels of a feature map are strongly correlated, so
dropping single pixels hardly regularises a convolutional layer; dropping whole maps does
(Tompson et al., 2015, "Efficient Object Localization Using Convolutional Networks").
"""

from __future__ import annotations

import warnings

import numpy as np

from minicnn.random import default_generator

__all__ = [
    "apply_dropout_mask",
    "check_dropout_p",
    "dropout",
    "dropout2d",
    "dropout2d_backward",
    "dropout2d_mask",
    "dropout_backward",
    "dropout_mask",
    "warn_unless_image_rank",
]


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
    """``x * keep / (1 - p)`` (zeros when ``p == 1``) in ``x``'s dtype; ``inplace`` writes to x.

    ``keep`` is ``x``'s shape, or broadcasts to it (a channel mask ``(N, C, 1, 1)``).
    """
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


def warn_unless_image_rank(ndim: int, owner: str = "dropout2d", stacklevel: int = 3) -> None:
    """PyTorch's deprecation warning for a :func:`dropout2d` input that is neither 3D nor 4D.

    ``stacklevel`` counts from this function's caller, as ``warnings.warn``'s does from
    itself: 1 points at the caller's line, 2 at its caller's (a user's call of dropout2d).
    """
    if ndim in (3, 4):
        return
    warnings.warn(
        f"{owner}: Received a {ndim}-D input to dropout2d, which is deprecated and will "
        "result in an error in a future release. To retain the behavior and silence this "
        "warning, please use dropout instead. Note that dropout2d exists to provide "
        "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, "
        "and an optional batch dimension (i.e. 3D or 4D inputs).",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def dropout2d_mask(shape: tuple[int, ...], p: float,
                   generator: np.random.Generator | None = None,
                   owner: str = "dropout2d") -> np.ndarray:
    """A boolean keep-mask with one entry per channel, True with probability ``1 - p``.

    ``(N, C, H, W)`` gives a ``(N, C, 1, 1)`` mask and an unbatched ``(C, H, W)`` a
    ``(C, 1, 1)`` one; each broadcasts over the feature maps. (PyTorch 2.13 still reads a 3D
    input as ``(N, C, L)``, and warns that this will change to ``(C, H, W)``; minicnn reads
    it as ``(C, H, W)`` already, as its ``Conv2d`` does.) Other ranks are read as
    ``(N, C, *)``, as PyTorch does; with fewer than 2 dimensions there is no channel to drop
    and only ``p == 1`` (drop everything) is answered, with an all-False mask. Drawn from
    ``generator``, or :func:`minicnn.random.default_generator` when it is None.
    """
    ndim = len(shape)
    if ndim < 2:
        if p == 1:
            return np.zeros(shape, dtype=bool)
        raise ValueError(f"{owner}: Feature dropout requires at least 2 dimensions in the "
                         f"input, got shape {tuple(shape)}")
    mask_shape = (shape[0], 1, 1) if ndim == 3 else tuple(shape[:2]) + (1,) * (ndim - 2)
    return dropout_mask(mask_shape, p, generator)


def dropout2d(x: np.ndarray, p: float = 0.5, training: bool = True, inplace: bool = False,
              generator: np.random.Generator | None = None) -> np.ndarray:
    """``torch.nn.functional.dropout2d``: zero whole channels with probability ``p`` and scale
    the rest by ``1 / (1 - p)`` in training; ``x`` itself otherwise.

    ``x`` is ``(N, C, H, W)`` or ``(C, H, W)``; other ranks warn as in PyTorch (see
    :func:`dropout2d_mask`). Draws a fresh mask each call; a layer that needs the backward
    keeps the mask from :func:`dropout2d_mask` and calls :func:`dropout2d_backward`.
    """
    check_dropout_p(p, "dropout2d")
    warn_unless_image_rank(x.ndim, "dropout2d", stacklevel=2)
    if not training or p == 0:
        return x
    return apply_dropout_mask(x, dropout2d_mask(x.shape, p, generator), p, inplace)


def dropout2d_backward(grad_output: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """Gradient of :func:`dropout2d` with the forward's channel mask ``keep`` (``(N, C, 1,
    1)``): ``grad_output * keep / (1 - p)``, the mask broadcast over each channel's map, as
    in the forward. The same multiplication as :func:`dropout_backward`."""
    return dropout_backward(grad_output, keep, p)
