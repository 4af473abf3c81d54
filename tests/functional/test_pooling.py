"""minicnn.functional.pooling against torch.nn.functional, on hypothesis-drawn configurations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional.pooling import (
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)
from tests.helpers import ATOL, assert_close
from tests.helpers.strategies import pool_configs, split_shape
from tests.helpers.torch_ops import torch_pool

dtypes = st.sampled_from([np.float64, np.float32])


# ---------------------------------------------------------------------- max pooling
@settings(max_examples=60, deadline=None)
@given(config=pool_configs(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_max_pool2d_matches_torch(config, dtype, seed):
    shape, kwargs = split_shape(config)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    expected, expected_indices, grad_output, expected_grad = torch_pool(
        torch_F.max_pool2d, x, seed + 1, return_indices=True, **kwargs
    )

    output, indices = max_pool2d(x, return_indices=True, **kwargs)
    grad_input = max_pool2d_backward(grad_output, indices, x.shape)

    assert output.dtype == dtype and grad_input.dtype == dtype, "dtype must be kept"
    np.testing.assert_array_equal(output, expected, err_msg="max is exact: outputs must match")
    np.testing.assert_array_equal(indices, expected_indices, err_msg="argmax differs from torch")
    assert_close(grad_input, expected_grad, dtype, "input gradient vs torch", atol=ATOL[dtype])


@settings(max_examples=50, deadline=None)
@given(
    config=pool_configs(),
    values=st.sampled_from(["zeros", "small_integers", "relu"]),
    dtype=dtypes,
    seed=st.integers(0, 2**16),
)
def test_max_pool2d_ties_send_gradient_where_torch_does(config, values, dtype, seed):
    # Many equal values in a window: torch's gradient goes to the FIRST maximum in row-major
    # window order. Overlapping windows add in the same order as torch's loop, so the
    # gradient is equal bit for bit, not just close.
    shape, kwargs = split_shape(config)
    rng = np.random.default_rng(seed)
    if values == "zeros":
        x = np.zeros(shape, dtype)
    elif values == "small_integers":
        x = rng.integers(-1, 2, shape).astype(dtype)
    else:
        x = np.maximum(rng.standard_normal(shape), 0).astype(dtype)
    _, expected_indices, grad_output, expected_grad = torch_pool(
        torch_F.max_pool2d, x, seed + 1, return_indices=True, **kwargs
    )

    _, indices = max_pool2d(x, return_indices=True, **kwargs)

    np.testing.assert_array_equal(indices, expected_indices, err_msg="tie broken unlike torch")
    np.testing.assert_array_equal(max_pool2d_backward(grad_output, indices, x.shape),
                                  expected_grad, err_msg="tie gradient differs from torch")


def test_max_pool2d_all_zero_window_gives_gradient_to_first_zero():
    x = np.zeros((1, 1, 2, 2))
    _, indices = max_pool2d(x, 2, return_indices=True)
    grad_input = max_pool2d_backward(np.array([[[[3.0]]]]), indices, x.shape)
    np.testing.assert_array_equal(grad_input, [[[[3.0, 0.0], [0.0, 0.0]]]],
                                  err_msg="the whole gradient must go to the first zero")


@pytest.mark.parametrize(
    "x",
    [
        np.array([[[[1.0, np.nan, 3.0], [np.nan, 0.0, 0.0], [0.0, 0.0, 0.0]]]]),
        np.full((2, 1, 3, 4), -np.inf),
        np.array([[[[-np.inf, 2.0, -np.inf], [np.nan, -np.inf, 5.0], [1.0, 1.0, -np.inf]]]]),
    ],
    ids=["nan", "all_minus_inf", "mixed"],
)
def test_max_pool2d_nan_and_minus_inf_like_torch(x):
    # NaNs propagate (the last NaN's index is kept) and an all -inf window's index points at
    # its first real element, never into the padding.
    kwargs = {"kernel_size": 2, "stride": 1, "padding": 1}
    expected, expected_indices = torch_F.max_pool2d(torch.tensor(x), return_indices=True,
                                                    **kwargs)
    output, indices = max_pool2d(x, return_indices=True, **kwargs)
    np.testing.assert_array_equal(output, expected.numpy())
    np.testing.assert_array_equal(indices, expected_indices.numpy())


def test_max_pool2d_window_of_padding_alone_gives_minus_inf_and_no_gradient():
    # Width 2, kernel 2, dilation 3, padding 1: the one window reads columns -1 and 2, both
    # padding. torch also outputs -inf (its index, 2, lies outside the plane, so only the
    # forward is compared: torch's backward would write out of bounds).
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 2))
    kwargs = {"kernel_size": 2, "padding": 1, "dilation": 3}
    expected = torch_F.max_pool2d(torch.tensor(x), **kwargs).numpy()
    output, indices = max_pool2d(x, return_indices=True, **kwargs)
    np.testing.assert_array_equal(output, expected)
    assert np.all(output[..., 0] == -np.inf), "a window of padding alone must give -inf"
    assert np.all(indices[..., 0] == -1), "a window of padding alone has no argmax"
    grad_input = max_pool2d_backward(np.ones(output.shape), indices, x.shape)
    np.testing.assert_array_equal(grad_input[..., 0], 0.0)


def test_max_pool2d_ceil_mode_window_overhanging_the_edge():
    # 5 wide, kernel 2, stride 2: ceil_mode adds a third window covering only column 4.
    x = np.arange(2 * 5, dtype=np.float64).reshape(1, 1, 2, 5)
    output, indices = max_pool2d(x, 2, ceil_mode=True, return_indices=True)
    expected, expected_indices = torch_F.max_pool2d(torch.tensor(x), 2, ceil_mode=True,
                                                    return_indices=True)
    assert output.shape == (1, 1, 1, 3), "ceil_mode must keep the overhanging last window"
    np.testing.assert_array_equal(output, expected.numpy())
    np.testing.assert_array_equal(indices, expected_indices.numpy())


# ---------------------------------------------------------------------- average pooling
@settings(max_examples=60, deadline=None)
@given(
    config=pool_configs(with_dilation=False),
    count_include_pad=st.booleans(),
    divisor_override=st.none() | st.integers(-3, 7).filter(bool),
    dtype=dtypes,
    seed=st.integers(0, 2**16),
)
def test_avg_pool2d_matches_torch(config, count_include_pad, divisor_override, dtype, seed):
    shape, kwargs = split_shape(config)
    kwargs.update(count_include_pad=count_include_pad, divisor_override=divisor_override)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    expected, _, grad_output, expected_grad = torch_pool(torch_F.avg_pool2d, x, seed + 1,
                                                         **kwargs)

    output = avg_pool2d(x, **kwargs)
    grad_input = avg_pool2d_backward(grad_output, x.shape, **kwargs)

    assert output.dtype == dtype and grad_input.dtype == dtype, "dtype must be kept"
    assert_close(output, expected, dtype, "output vs torch", atol=ATOL[dtype])
    assert_close(grad_input, expected_grad, dtype, "input gradient vs torch", atol=ATOL[dtype])


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_divisor_ignores_ceil_mode_overhang(count_include_pad):
    # Size 6, kernel 3, stride 2, padding 1, ceil_mode: the last window starts at input
    # position 5 and covers 5 (real), 6 (right padding) and 7 (beyond the padding). Per axis
    # torch divides by 2 with count_include_pad (the overhang never counts), by 1 without.
    x = np.ones((1, 1, 6, 6))
    kwargs = {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
              "count_include_pad": count_include_pad}
    expected = torch_F.avg_pool2d(torch.tensor(x), **kwargs).numpy()
    output = avg_pool2d(x, **kwargs)
    assert output.shape == (1, 1, 4, 4), "ceil_mode must keep the overhanging last window"
    np.testing.assert_allclose(output, expected, rtol=1e-12)


# ---------------------------------------------------------------------- shared behaviour
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_unbatched_input(pool):
    x = np.random.default_rng(0).standard_normal((3, 7, 6))
    kwargs = {"kernel_size": (3, 2), "stride": (2, 1), "padding": 1, "ceil_mode": True}
    if pool == "max":
        expected, expected_indices, grad_output, expected_grad = torch_pool(
            torch_F.max_pool2d, x, 1, return_indices=True, **kwargs
        )
        output, indices = max_pool2d(x, return_indices=True, **kwargs)
        np.testing.assert_array_equal(indices, expected_indices)
        grad_input = max_pool2d_backward(grad_output, indices, x.shape)
    else:
        expected, _, grad_output, expected_grad = torch_pool(torch_F.avg_pool2d, x, 1, **kwargs)
        output = avg_pool2d(x, **kwargs)
        grad_input = avg_pool2d_backward(grad_output, x.shape, **kwargs)
    assert output.shape == expected.shape == (3, 4, 7)
    np.testing.assert_allclose(output, expected, rtol=1e-12)
    np.testing.assert_allclose(grad_input, expected_grad, rtol=1e-12)


def test_inputs_and_gradients_are_not_modified():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6))
    x_before = x.copy()
    output, indices = max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    grad_output = rng.standard_normal(output.shape)
    grad_before = grad_output.copy()
    max_pool2d_backward(grad_output, indices, x.shape)
    avg_pool2d(x, 3, stride=1, padding=1)
    avg_pool2d_backward(grad_output, x.shape, 3, stride=1, padding=1)
    np.testing.assert_array_equal(x, x_before, err_msg="the input was modified")
    np.testing.assert_array_equal(grad_output, grad_before, err_msg="grad_output was modified")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: max_pool2d(np.zeros((2, 2)), 2), ValueError, "max_pool2d: expected 3D"),
        (lambda: max_pool2d(np.zeros((1, 1, 4, 4), np.int64), 2), TypeError,
         "max_pool2d: expected a float32 or float64 input"),
        (lambda: max_pool2d([[[0.0]]], 1), TypeError, "max_pool2d: expected a numpy.ndarray"),
        (lambda: max_pool2d(np.zeros((1, 1, 2, 2)), 3), ValueError,
         "max_pool2d: given input of size 2x2, the calculated output size is 0x0"),
        (lambda: max_pool2d(np.zeros((1, 1, 8, 8)), 3, padding=2), ValueError,
         "max_pool2d: pad should be at most half of effective kernel size, but got pad=2, "
         "kernel_size=3 and dilation=1"),
        (lambda: max_pool2d(np.zeros((1, 1, 9, 9)), 3, padding=2, dilation=2), ValueError,
         "max_pool2d: pad should be smaller than or equal to half of kernel size"),
        (lambda: max_pool2d(np.zeros((1, 1, 4, 4)), 2, stride=0), ValueError,
         "max_pool2d: stride must be positive"),
        (lambda: max_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=-1), ValueError,
         "max_pool2d: padding must be non-negative"),
        (lambda: max_pool2d(np.zeros((1, 1, 4, 4)), 2.0), TypeError,
         "max_pool2d: kernel_size must be an int or a pair of ints"),
        (lambda: max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), np.int64),
                                     (1, 1, 4, 6)), ValueError,
         "max_pool2d_backward: expected grad_output of shape (1, 1, 2, 3)"),
        (lambda: avg_pool2d(np.zeros((1, 1, 4, 4)), 2, divisor_override=0), ValueError,
         "avg_pool2d: divisor_override must not be zero"),
        (lambda: avg_pool2d(np.zeros((1, 1, 4, 4)), (2, 0)), ValueError,
         "avg_pool2d: kernel_size must be positive"),
        (lambda: avg_pool2d_backward(np.zeros((1, 1, 3, 3)), (1, 1, 4, 4), 2), ValueError,
         "avg_pool2d_backward: expected grad_output of shape (1, 1, 2, 2)"),
    ],
)
def test_errors_name_the_function(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert str(raised.value).startswith(message), f"got {raised.value}"
