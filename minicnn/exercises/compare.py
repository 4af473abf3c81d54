"""Comparing a learner's arrays with the expected ones, down to the first wrong element.

A tensor passes when every element satisfies ``|actual - expected| <= atol + rtol * scale``,
with ``scale = max |expected|`` (one scale per tensor, as :func:`minicnn.gradcheck` does, so
entries near zero are not judged by their own tiny size). A failure is reported as the first
wrong element in C order, with both values: that is the element a learner can recompute by
hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Mismatch",
    "close_enough",
    "first_mismatch",
    "form_mismatch",
    "format_index",
    "format_value",
]


@dataclass(frozen=True)
class Mismatch:
    """How one of the learner's tensors differs from the expected one.

    Attributes:
        tensor: the tensor's name (``"grad_weight"``).
        problem: ``"shape"``, ``"dtype"``, ``"type"`` or ``"value"``.
        actual, expected: the two arrays (``actual`` may be anything for ``"type"``).
        index: the first wrong element (``"value"`` only).
        wrong: how many elements are wrong (``"value"`` only).
    """

    tensor: str
    problem: str
    actual: object
    expected: np.ndarray
    index: tuple[int, ...] | None = None
    wrong: int = 0

    def describe(self) -> str:
        """One sentence: which element, what was expected, what came out."""
        if self.problem == "type":
            return (f"{self.tensor}: expected an ndarray of shape {self.expected.shape}, got "
                    f"{type(self.actual).__name__}")
        if self.problem == "shape":
            return (f"{self.tensor}: expected shape {self.expected.shape}, got "
                    f"{np.shape(self.actual)}")
        if self.problem == "dtype":
            return (f"{self.tensor}: expected dtype {self.expected.dtype} (the input's), got "
                    f"{self.actual.dtype}: an array made with np.zeros(shape) or a float64 "
                    "constant upcasts; pass dtype=x.dtype")
        actual = np.asarray(self.actual)
        position = format_index(self.tensor, self.index)
        checked = int(np.sum(~np.isnan(self.expected)))
        return (f"{position}: expected {format_value(self.expected[self.index])}, got "
                f"{format_value(actual[self.index])} ({self.wrong} of {checked} elements wrong)")


def format_index(name: str, index: tuple[int, ...]) -> str:
    """``grad_weight[1, 0]``; just the name for a scalar."""
    return f"{name}[{', '.join(str(i) for i in index)}]" if index else name


def format_value(value) -> str:
    """A value with enough digits to tell two float64 numbers apart by eye."""
    return f"{float(value):.8g}"


def close_enough(actual, expected: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Element-wise ``|actual - expected| <= atol + rtol * max |expected|`` (NaN expected: True).

    An expected NaN marks an element that was not checked (a finite-difference check of a
    sample of the elements), so it passes whatever the actual value.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    finite = expected[~np.isnan(expected)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    with np.errstate(invalid="ignore"):
        ok = np.abs(actual - expected) <= atol + rtol * scale
    return ok | np.isnan(expected)


def form_mismatch(name: str, actual, expected: np.ndarray,
                  check_dtype: bool = True) -> Mismatch | None:
    """How ``actual`` fails ``expected``'s form: not an array, another shape, another dtype.

    A scalar result (a loss) may be a Python float, a NumPy scalar or a 0-d array; its dtype is
    not checked.
    """
    expected = np.asarray(expected)
    if not isinstance(actual, (np.ndarray, np.generic, float, int)) or isinstance(actual, bool):
        return Mismatch(name, "type", actual, expected)
    if np.shape(actual) != expected.shape:
        return Mismatch(name, "shape", actual, expected)
    if check_dtype and expected.ndim and np.asarray(actual).dtype != expected.dtype:
        return Mismatch(name, "dtype", np.asarray(actual), expected)
    return None


def first_mismatch(name: str, actual, expected: np.ndarray, rtol: float,
                   atol: float) -> Mismatch | None:
    """The first way ``actual`` differs from ``expected``: type or shape, then values."""
    expected = np.asarray(expected)
    wrong_form = form_mismatch(name, actual, expected, check_dtype=False)
    if wrong_form is not None:
        return wrong_form
    actual_array = np.asarray(actual)
    ok = close_enough(actual_array, expected, rtol, atol)
    if ok.all():
        return None
    wrong = np.argwhere(~ok)
    return Mismatch(name, "value", actual_array, expected, tuple(int(i) for i in wrong[0]),
                    len(wrong))
