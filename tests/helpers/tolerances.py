"""The parity tolerances and the one comparison every parity test uses, :func:`assert_close`.

minicnn is held to PyTorch (or to its own NumPy reference) within a relative error of

- ``1e-10`` in float64: exact up to the rounding of a few operations;
- ``1e-5`` in float32: the tolerance a user sees.

Every comparison also allows an absolute error, because a result that cancels (``1 - y**2``
for ``y`` near 1, a gradient summing terms of both signs) carries a rounding error relative to
its terms, not to itself. By default that floor scales with the data (see
:func:`assert_close`); a test that knows better passes ``atol`` itself, for instance the flat
floor :data:`ATOL` (what :func:`minicnn.testing.default_tolerances` gives) or the magnitude of
the terms times :data:`RTOL`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ATOL", "RTOL", "ByDtype", "assert_close"]

class ByDtype(dict):
    """A dict keyed by NumPy dtype that also answers to ``np.float32`` (the scalar type)."""

    def __missing__(self, key):
        if isinstance(key, np.dtype):
            raise KeyError(key)
        return self[np.dtype(key)]


RTOL = ByDtype({np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5})
"""Relative tolerance by dtype."""
ATOL = ByDtype({np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-6})
"""A flat absolute floor by dtype, for values of order one (losses, optimiser states)."""
# The default floor is RTOL times this times the data's scale: float64 keeps a floor 100x
# tighter than its relative tolerance, float32 one equal to it.
_FLOOR_FACTOR = ByDtype({np.dtype(np.float64): 1e-2, np.dtype(np.float32): 1.0})


def _largest_finite(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)]) if values.dtype.kind in "fc" else np.abs(values)
    return float(np.max(finite, initial=0.0))


def assert_close(actual, expected, dtype, what: str = "", *, rtol: float | None = None,
                 atol: float | None = None, scale: float | None = None,
                 relative_to: str = "element") -> None:
    """``actual`` is ``expected``, computed in ``dtype``, to that dtype's tolerance.

    Passes when ``actual`` has ``dtype`` (or, for a non-float ``expected`` such as an integer
    buffer, ``expected``'s dtype), ``expected``'s shape, and every element satisfies
    ``|actual - expected| <= atol + rtol * |expected|``; NaN must meet NaN.

    Args:
        actual: minicnn's result (an array or a scalar).
        expected: the oracle's: an array, a scalar or a torch tensor.
        dtype: the float dtype the computation ran in.
        what: names the compared quantity in the failure message.
        rtol: default :data:`RTOL` of ``dtype``.
        atol: default ``rtol * max(1, max|expected|)``, times 0.01 in float64; with
            ``scale``, ``rtol * scale``; with ``relative_to="tensor"``, :data:`ATOL` of
            ``dtype``.
        scale: the magnitude of the terms a result is computed from, when it cancels to
            something much smaller (a batch-norm input gradient): its rounding error is
            relative to them, so the absolute tolerance is ``rtol * scale``.
        relative_to: ``"element"`` (the relative term uses each element's own
            ``|expected|``) or ``"tensor"`` (it uses the largest ``|expected|`` for every
            element: one scale per tensor, as :func:`minicnn.testing.compare_with_torch`
            reports errors).
    """
    dtype = np.dtype(dtype)
    if hasattr(expected, "detach"):  # a torch tensor; torch itself is not imported here
        expected = expected.detach().numpy()
    actual, expected = np.asarray(actual), np.asarray(expected)
    wanted_dtype = dtype if expected.dtype.kind == "f" else expected.dtype
    assert actual.dtype == wanted_dtype, (
        f"{what}: expected dtype {wanted_dtype}, got {actual.dtype}")
    assert actual.shape == expected.shape, (
        f"{what}: expected shape {expected.shape}, got {actual.shape}")
    if rtol is None:
        rtol = RTOL[dtype]
    largest = _largest_finite(expected)
    if relative_to == "tensor":
        atol = (ATOL[dtype] if atol is None else atol) + rtol * largest
        rtol = 0.0
    elif relative_to != "element":
        raise ValueError(f"relative_to must be 'element' or 'tensor', got {relative_to!r}")
    elif atol is None and scale is not None:
        atol = rtol * scale
    elif atol is None:
        atol = rtol * max(1.0, largest) * _FLOOR_FACTOR[dtype]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)
