"""The mistakes learners make in backward passes, recognised from the numbers they produce.

Each :class:`Mistake` is a test on a wrong tensor: given the learner's array, the expected one
and the case that produced them, does the wrong answer have the shape of this mistake? A
sign flip is exactly minus the expected gradient; a gradient off by the batch size is N (or
1/N) times it; a transposed weight gradient is the expected one transposed; col2im that
overwrites where windows overlap is right wherever a pixel lies in a single window and wrong
only where several windows meet. An exercise lists the mistakes that fit it; the checker names
the first that matches, so the learner reads "looks like: ..." next to the wrong element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from minicnn.exercises.compare import close_enough

__all__ = [
    "BATCH_SIZE",
    "SIGN_FLIPPED",
    "TRANSPOSED_WEIGHT",
    "Mistake",
    "diagnose",
    "matches",
    "wrong_only_where",
]

MATCH_RTOL, MATCH_ATOL = 1e-6, 1e-12


@dataclass(frozen=True)
class Mistake:
    """A known mistake and how to recognise it.

    Attributes:
        name: what the learner did, e.g. ``"gradient off by the batch size"``.
        advice: why it is wrong and what to do instead.
        tensors: the tensor names it can explain (empty: any).
        test: ``test(actual, expected, case)`` is true when the wrong ``actual`` fits the
            mistake; ``case`` is the :class:`~minicnn.exercises.exercise.Case` run.
    """

    name: str
    advice: str
    tensors: tuple[str, ...]
    test: Callable[[np.ndarray, np.ndarray, object], bool]

    def fits(self, tensor: str, actual, expected: np.ndarray, case) -> bool:
        if self.tensors and tensor not in self.tensors:
            return False
        try:
            return bool(self.test(np.asarray(actual), np.asarray(expected), case))
        except (ValueError, TypeError, IndexError, KeyError):
            return False  # a test that cannot even be applied to these shapes does not fit


def matches(actual: np.ndarray, candidate: np.ndarray) -> bool:
    """Same shape and equal up to rounding, and not trivially (both all zeros)."""
    candidate = np.asarray(candidate)
    if actual.shape != candidate.shape or not np.any(candidate):
        return False
    return bool(close_enough(actual, candidate, MATCH_RTOL, MATCH_ATOL).all())


def wrong_only_where(actual: np.ndarray, expected: np.ndarray, suspect: np.ndarray) -> bool:
    """Right everywhere outside ``suspect`` (a boolean mask), wrong somewhere inside it."""
    if actual.shape != expected.shape:
        return False
    ok = close_enough(actual, expected, MATCH_RTOL, MATCH_ATOL)
    return bool(ok[~suspect].all() and not ok[suspect].all())


def diagnose(mistakes: Sequence[Mistake], tensor: str, actual, expected, case) -> Mistake | None:
    """The first of ``mistakes`` that explains the wrong ``actual``, or ``None``."""
    for mistake in mistakes:
        if mistake.fits(tensor, actual, expected, case):
            return mistake
    return None


def _sign_flipped(actual, expected, case) -> bool:
    return matches(actual, -expected)


def _batch_scaled(actual, expected, case) -> bool:
    n = case.batch_size
    return bool(n and n > 1 and (matches(actual, expected * n) or matches(actual, expected / n)))


def _transposed(actual, expected, case) -> bool:
    if expected.ndim == 2:
        return matches(actual, expected.T)
    if expected.ndim == 4:  # a convolution's (C_out, C_in, k, k)
        return matches(actual, expected.transpose(1, 0, 2, 3))
    return False


SIGN_FLIPPED = Mistake(
    "sign flipped",
    "yours is exactly minus the expected value: the gradient points uphill. Check the sign "
    "of each term (d(a - b)/db = -1), and that an update subtracts lr * gradient",
    (), _sign_flipped)

BATCH_SIZE = Mistake(
    "gradient off by the batch size",
    "yours is N times (or 1/N of) the expected value, N the batch size. The loss is the mean "
    "over the batch, so its gradient carries one factor 1/N, once, in the loss; the layers "
    "below sum over the samples without dividing again",
    (), _batch_scaled)

TRANSPOSED_WEIGHT = Mistake(
    "transposed weight gradient",
    "yours is the expected weight gradient transposed. A gradient has the shape of what it is "
    "the gradient of: weight is (out, in), so grad_weight = grad_output.T @ x, not "
    "x.T @ grad_output",
    ("grad_weight",), _transposed)
