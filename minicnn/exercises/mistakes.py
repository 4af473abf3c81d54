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

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from minicnn.exercises.compare import close_enough

__all__ = [
    "BATCH_SIZE",
    "BIAS_NOT_SUMMED",
    "SIGN_FLIPPED",
    "TRANSPOSED_WEIGHT",
    "Mistake",
    "diagnose",
    "matches",
    "overlap_overwritten",
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
        test: ``test(actual, expected, case, tensor)`` is true when the wrong ``actual`` (of
            the tensor named ``tensor``) fits the mistake; ``case`` is the
            :class:`~minicnn.exercises.exercise.Case` that produced it.
    """

    name: str
    advice: str
    tensors: tuple[str, ...]
    test: Callable[[np.ndarray, np.ndarray, object, str], bool]

    def fits(self, tensor: str, actual, expected: np.ndarray, case) -> bool:
        if self.tensors and tensor not in self.tensors:
            return False
        try:
            return bool(self.test(np.asarray(actual), np.asarray(expected), case, tensor))
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


def _sign_flipped(actual, expected, case, tensor) -> bool:
    return matches(actual, -expected)


def _batch_scaled(actual, expected, case, tensor) -> bool:
    n = case.batch_size
    return bool(n and n > 1 and (matches(actual, expected * n) or matches(actual, expected / n)))


def _transposed(actual, expected, case, tensor) -> bool:
    if expected.ndim == 2:
        return matches(actual, expected.T)
    if expected.ndim == 4:  # a convolution's (C_out, C_in, k, k)
        return matches(actual, expected.transpose(1, 0, 2, 3))
    return False


def _bias_not_summed(actual, expected, case, tensor) -> bool:
    grad = np.asarray(case.inputs["grad_output"], dtype=np.float64)
    reduced = [axis for axis in range(grad.ndim) if axis != 1]
    candidates = [grad.sum(axis=axes) for count in range(len(reduced))
                  for axes in itertools.combinations(reduced, count)]
    if grad.ndim == 4:  # averaged over the positions, summed over the batch
        candidates.append(grad.mean(axis=(2, 3)).sum(axis=0))
    return any(matches(actual, candidate) for candidate in candidates)


def overlap_overwritten(coverage: Callable[[object], np.ndarray], tensor: str) -> Mistake:
    """The col2im mistake, for a tensor whose elements ``coverage(case)`` windows cover."""
    return Mistake(
        "overlapping windows overwritten instead of added",
        "yours is right wherever an element lies in one window and wrong only where windows "
        "overlap. An element copied into several windows gets the sum of their gradients: "
        "accumulate with += (np.add.at for fancy indices), never assign",
        (tensor,),
        lambda actual, expected, case, name: wrong_only_where(actual, expected,
                                                              coverage(case) > 1))


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

BIAS_NOT_SUMMED = Mistake(
    "bias gradient not summed over positions",
    "the bias is added to every sample and, in a convolution, at every output position, so "
    "its gradient sums grad_output over every axis but the channels': axis 0 for Linear, "
    "axes (0, 2, 3) for Conv2d, giving one number per output channel",
    ("grad_bias",), _bias_not_summed)

TRANSPOSED_WEIGHT = Mistake(
    "transposed weight gradient",
    "yours is the expected weight gradient transposed. A gradient has the shape of what it is "
    "the gradient of: weight is (out, in), so grad_weight = grad_output.T @ x, not "
    "x.T @ grad_output",
    ("grad_weight",), _transposed)
