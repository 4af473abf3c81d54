"""Comparisons shared by the parity tests: minicnn's arrays against PyTorch's or the reference's.

float64 must agree to 1e-10 relative (exactness up to rounding) and float32 to 1e-5 (the
tolerance a user sees).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["assert_close"]


def assert_close(actual, expected, dtype, what: str = "") -> None:
    """``actual`` is ``expected`` in ``dtype``, with an absolute floor scaled to the data.

    The floor matters where a result cancels (``1 - y^2`` for ``y`` near 1): one ulp of
    difference in ``y`` between two correct implementations is a large relative change there.
    float64 keeps a floor 100x tighter than its relative tolerance.
    """
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert actual.dtype == np.dtype(dtype), f"{what}: expected dtype {dtype}, got {actual.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    atol = rtol * scale * (1e-2 if dtype == np.float64 else 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)

