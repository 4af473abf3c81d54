"""minicnn.functional.linear against torch.nn.functional.linear and its autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.linear import linear, linear_backward
from tests.helpers import assert_close

DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40, deadline=None)
@given(
    leading=st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
    in_features=st.integers(1, 7),
    out_features=st.integers(1, 7),
    has_bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_linear_and_its_backward_match_torch(dtype, leading, in_features, out_features,
                                             has_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(leading + (in_features,)).astype(dtype)
    weight = rng.standard_normal((out_features, in_features)).astype(dtype)
    bias = rng.standard_normal(out_features).astype(dtype) if has_bias else None
    grad_output = rng.standard_normal(leading + (out_features,)).astype(dtype)

    x_t = torch.tensor(x, requires_grad=True)
    w_t = torch.tensor(weight, requires_grad=True)
    b_t = torch.tensor(bias, requires_grad=True) if has_bias else None
    y_t = TF.linear(x_t, w_t, b_t)
    y_t.backward(torch.tensor(grad_output))

    assert_close(linear(x, weight, bias), y_t, dtype, "forward")
    grad_input, grad_weight, grad_bias = linear_backward(grad_output, x, weight, has_bias)
    assert_close(grad_input, x_t.grad, dtype, "grad_input")
    assert_close(grad_weight, w_t.grad, dtype, "grad_weight")
    if has_bias:
        assert_close(grad_bias, b_t.grad, dtype, "grad_bias")
    else:
        assert grad_bias is None, "without a bias, linear_backward must return grad_bias=None"


def test_linear_leaves_its_arguments_unchanged():
    rng = np.random.default_rng(0)
    x, w, b, g = (rng.standard_normal(s) for s in ((2, 3), (4, 3), (4,), (2, 4)))
    copies = [a.copy() for a in (x, w, b, g)]
    linear(x, w, b)
    linear_backward(g, x, w, True)
    for array, copy in zip((x, w, b, g), copies):
        np.testing.assert_array_equal(array, copy, err_msg="an argument was modified")
