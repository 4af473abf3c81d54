"""Small helpers the unit explanations share: JSON-safe numbers and index checks."""

from __future__ import annotations

import math

import numpy as np

from minicnn.explore.errors import RequestError

__all__ = ["check_index", "number", "numbers", "reads_at", "sum_of"]


def number(value) -> float | None:
    """A float for JSON, the exact value of the float32 (or float64) it came from; None for
    NaN and infinities, which JSON cannot carry."""
    value = float(value)
    return value if math.isfinite(value) else None


def numbers(array) -> list:
    """Nested lists of floats (None where not finite), the shape of ``array``."""
    array = np.asarray(array)
    values = array.astype(object)
    if np.issubdtype(array.dtype, np.floating):
        values[~np.isfinite(array)] = None
    return values.tolist()


def sum_of(values) -> float:
    """The sum in float64: the exact sum of the float32 terms up to float64's rounding, so it
    differs from the layer's float32 result only by the layer's own rounding."""
    return float(np.sum(np.asarray(values, dtype=np.float64)))


def check_index(index, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    """``index`` as a tuple of ints inside ``shape``, or a :class:`RequestError` saying why."""
    if (not isinstance(index, (list, tuple))
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in index)):
        raise RequestError(f"{what}: the unit index must be a list of integers, got {index!r}")
    if len(index) != len(shape):
        raise RequestError(f"{what}: the output has shape {list(shape)}, so a unit index needs "
                           f"{len(shape)} numbers, got {list(index)}")
    for position, size in zip(index, shape):
        if not 0 <= position < size:
            raise RequestError(f"{what}: unit index {list(index)} is outside the output's shape "
                               f"{list(shape)}")
    return tuple(index)


def reads_at(index) -> dict:
    """The ``reads`` of an explanation that read one input position: a map cell
    ``(c, r, s)`` or a vector entry ``(i,)``, in the form the page highlights."""
    index = [int(i) for i in index]
    if len(index) == 3:
        return {"channels": index[:1], "rows": index[1:2], "cols": index[2:]}
    return {"indices": index[-1:]}
