"""Fast softmax cross-entropy for the common case: ``(N, C)`` logits and class indices.

The twin of :mod:`minicnn.functional.loss`'s ``_cross_entropy`` and
``_cross_entropy_backward`` (same arguments, ``name`` first, same results). One loop over
the samples computes each row's log-sum-exp once, instead of the reference's general
soft-target machinery (which serves class weights, label smoothing and probability targets
with a dozen array operations). Those other cases, and every error, are the reference's.
"""

from __future__ import annotations

import numpy as np

from minicnn.functional import loss as reference
from minicnn.kernels._jit import kernel

__all__ = ["_cross_entropy", "_cross_entropy_backward"]


@kernel
def cross_entropy_rows(logits, target, ignore_index, losses, grad, want_grad):
    """Per-sample ``losses[n] = logsumexp(logits[n]) - logits[n, target[n]]``.

    With ``want_grad``, also ``grad[n] = softmax(logits[n]) - onehot(target[n])`` (zero rows
    for ignored samples). Returns how many samples were kept, or ``-1`` if a target is out of
    range (the caller then lets the reference raise its error).
    """
    samples, classes = logits.shape
    kept = 0
    for n in range(samples):
        t = target[n]
        if t == ignore_index:
            losses[n] = 0.0
            if want_grad:
                for c in range(classes):
                    grad[n, c] = 0.0
            continue
        if t < 0 or t >= classes:
            return -1
        kept += 1
        # Subtracting the row's maximum keeps every exp() at most 1: no overflow.
        largest = logits[n, 0]
        for c in range(1, classes):
            if logits[n, c] > largest:
                largest = logits[n, c]
        total = 0.0
        for c in range(classes):
            total += np.exp(logits[n, c] - largest)
        log_total = np.log(total)
        losses[n] = log_total + largest - logits[n, t]
        if want_grad:
            for c in range(classes):
                grad[n, c] = np.exp(logits[n, c] - largest - log_total)
            grad[n, t] -= 1.0
    return kept


def _fast_case(input, target, weight, label_smoothing) -> bool:
    return (isinstance(input, np.ndarray) and input.ndim == 2 and input.shape[1] > 0
            and input.dtype in (np.float32, np.float64) and weight is None
            and label_smoothing == 0 and isinstance(target, np.ndarray)
            and target.shape == input.shape[:1] and np.issubdtype(target.dtype, np.integer))


def _rows(input, target, ignore_index, want_grad):
    losses = np.empty(input.shape[0], dtype=input.dtype)
    grad = np.empty(input.shape if want_grad else (0, 0), dtype=input.dtype)
    kept = cross_entropy_rows(np.ascontiguousarray(input), target.astype(np.int64, copy=False),
                              int(ignore_index), losses, grad, want_grad)
    return losses, grad, kept


def _cross_entropy(name, input, target, weight, ignore_index, reduction, label_smoothing):
    """:func:`minicnn.functional.loss.cross_entropy` (with the error-naming ``name``), fast."""
    if not _fast_case(input, target, weight, label_smoothing):
        return reference._cross_entropy(name, input, target, weight, ignore_index, reduction,
                                        label_smoothing)
    reference.check_reduction(name, reduction)
    reference.check_ignore_index(name, ignore_index)
    losses, _, kept = _rows(input, target, ignore_index, want_grad=False)
    if kept < 0:  # a target out of range: the reference raises the error
        return reference._cross_entropy(name, input, target, weight, ignore_index, reduction,
                                        label_smoothing)
    return reference._reduce(losses, reduction, kept)


def _cross_entropy_backward(name, grad_output, input, target, weight, ignore_index, reduction,
                            label_smoothing):
    """:func:`minicnn.functional.loss.cross_entropy_backward` (``name`` first), fast."""
    if not _fast_case(input, target, weight, label_smoothing):
        return reference._cross_entropy_backward(name, grad_output, input, target, weight,
                                                 ignore_index, reduction, label_smoothing)
    reference.check_reduction(name, reduction)
    reference.check_ignore_index(name, ignore_index)
    _, grad, kept = _rows(input, target, ignore_index, want_grad=True)
    if kept < 0:
        return reference._cross_entropy_backward(name, grad_output, input, target, weight,
                                                 ignore_index, reduction, label_smoothing)
    if (reduction != "none" and 0 < kept == input.shape[0]
            and isinstance(grad_output, np.ndarray) and grad_output.shape == ()
            and grad_output.dtype == input.dtype):
        # The training step's case: a scalar gradient of the mean or sum, no sample ignored.
        # The same float32 operations as below, without the general case's Python work.
        grad *= grad_output / input.dtype.type(kept) if reduction == "mean" else grad_output
        return grad
    scale = reference._grad_scale(name, grad_output, reduction, (input.shape[0],), kept,
                                  input.dtype)
    with np.errstate(invalid="ignore"):  # an all-ignored mean scales by inf * 0: NaN, as torch
        grad *= scale[:, None]
    # Ignored samples get exactly 0, even when the mean's scale is inf (PyTorch skips them).
    grad[target == ignore_index] = 0.0
    return grad
