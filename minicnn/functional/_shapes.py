"""Output-size formulas and argument normalisation: one formula, one helper.

Every layer and functional op that needs an output size or a padding calls these, so the
formulas live in exactly one place.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "pair",
    "pool_output_size",
    "same_padding",
]


def _is_int(value) -> bool:
    # NumPy integers count (torch accepts np.int64(3) as a kernel size); bools do not.
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def pair(value, name: str, owner: str = "") -> tuple[int, int]:
    """Normalise an ``int`` or a 2-sequence of ints to a ``(height, width)`` tuple of ints.

    Raises ``TypeError`` naming ``owner`` (a layer or function) and ``name``.
    """
    if _is_int(value):
        return (int(value), int(value))
    is_pair = isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
    if is_pair and all(_is_int(v) for v in value):
        return (int(value[0]), int(value[1]))
    prefix = f"{owner}: " if owner else ""
    raise TypeError(f"{prefix}{name} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis.

    ``out = floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                               output_padding: int) -> int:
    """Output length of a transposed convolution along one axis.

    ``out = (size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``

    It inverts :func:`conv_output_size`: a convolution with the same arguments maps ``out``
    back to ``size``, and its floor division maps ``stride`` lengths onto that same ``size``;
    ``output_padding`` (``0 <= output_padding < stride``) picks one of them. The extra
    ``output_padding`` entries sit at the end (bottom/right), where no input reaches.
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def pool_output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> int:
    """Output length of a pooling window along one axis, as PyTorch computes it.

    ``out = floor_or_ceil((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``

    With ``ceil_mode`` the last window may start past the padded input's end; PyTorch drops it
    when it would start inside the right padding (``(out - 1) * stride >= size + padding``),
    so every window covers at least one real element.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = span // stride + 1
    return out


def same_padding(kernel: int, dilation: int) -> tuple[int, int]:
    """``(before, after)`` padding that keeps the size with stride 1 (``padding='same'``).

    The total is ``dilation*(kernel - 1)``; when it is odd, PyTorch puts the extra element after.
    """
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2

