"""minicnn.kernels.pooling against the NumPy reference and PyTorch, on the reference's grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional import pooling as reference
from minicnn.kernels import pooling as kernels
from tests.helpers import assert_close
from tests.helpers.strategies import pool_configs, split_shape
from tests.helpers.torch_ops import torch_pool

SETTINGS = settings(max_examples=40, deadline=None)
dtypes = st.sampled_from([np.float64, np.float32])


def draw_input(shape, dtype, values: str, seed: int) -> np.ndarray:
    """Random normals, or values full of ties (small integers, ReLU-like zeros)."""
    rng = np.random.default_rng(seed)
    if values == "small_integers":
        return rng.integers(-2, 3, size=shape).astype(dtype)
    x = rng.standard_normal(shape)
    return (np.maximum(x, 0) if values == "relu" else x).astype(dtype)


@SETTINGS
@given(config=pool_configs(), dtype=dtypes, seed=st.integers(0, 2**16),
       values=st.sampled_from(["normal", "small_integers", "relu"]))
def test_max_pool2d_matches_reference_and_torch_with_ties(config, dtype, seed, values):
    shape, kwargs = split_shape(config)
    x = draw_input(shape, dtype, values, seed)
    out_torch, indices_torch, grad_output, grad_torch = torch_pool(
        F.max_pool2d, x, seed + 1, return_indices=True, **kwargs)
    out_ref, indices_ref = reference.max_pool2d(x, return_indices=True, **kwargs)
    out_fast, indices_fast = kernels.max_pool2d(x, return_indices=True, **kwargs)
    np.testing.assert_array_equal(out_fast, out_ref, err_msg="max_pool2d output vs reference")
    np.testing.assert_array_equal(indices_fast, indices_torch,
                                  err_msg="argmax indices vs torch (first maximum on ties)")
    np.testing.assert_array_equal(indices_fast, indices_ref, err_msg="indices vs reference")
    assert_close(out_fast, out_torch, dtype, "max_pool2d output vs torch")
    grad_fast = kernels.max_pool2d_backward(grad_output, indices_fast, x.shape)
    assert_close(grad_fast, grad_torch, dtype, "max_pool2d input gradient vs torch")
    assert_close(grad_fast, reference.max_pool2d_backward(grad_output, indices_ref, x.shape), dtype,
                 "max_pool2d input gradient vs reference")


@SETTINGS
@given(config=pool_configs(with_dilation=False), count_include_pad=st.booleans(),
       divisor_override=st.none() | st.integers(-3, 7).filter(bool), dtype=dtypes,
       seed=st.integers(0, 2**16))
def test_avg_pool2d_matches_reference_and_torch(config, count_include_pad, divisor_override,
                                                dtype, seed):
    shape, kwargs = split_shape(config)
    kwargs.update(count_include_pad=count_include_pad, divisor_override=divisor_override)
    x = draw_input(shape, dtype, "normal", seed)
    out_torch, _, grad_output, grad_torch = torch_pool(F.avg_pool2d, x, seed + 1, **kwargs)
    out_fast = kernels.avg_pool2d(x, **kwargs)
    assert_close(out_fast, out_torch, dtype, "avg_pool2d output vs torch")
    assert_close(out_fast, reference.avg_pool2d(x, **kwargs), dtype,
                 "avg_pool2d output vs reference")
    grad_fast = kernels.avg_pool2d_backward(grad_output, x.shape, **kwargs)
    assert_close(grad_fast, grad_torch, dtype, "avg_pool2d input gradient vs torch")
    assert_close(grad_fast, reference.avg_pool2d_backward(grad_output, x.shape, **kwargs), dtype,
                 "avg_pool2d input gradient vs reference")


def test_all_zero_window_sends_its_gradient_to_the_first_zero():
    x = np.zeros((1, 1, 2, 2), np.float32)
    output, indices = kernels.max_pool2d(x, 2, return_indices=True)
    grad = kernels.max_pool2d_backward(np.ones_like(output), indices, x.shape)
    np.testing.assert_array_equal(grad[0, 0], [[1, 0], [0, 0]],
                                  err_msg="a tie must go to the first element, as in torch")


def test_nan_propagates_and_window_of_padding_alone_gives_minus_inf():
    x = np.array([[[1.0, np.nan, 3.0, 2.0]]])
    out_torch = torch.nn.functional.max_pool2d(torch.tensor(x), (1, 2)).numpy()
    np.testing.assert_array_equal(kernels.max_pool2d(x, (1, 2)), out_torch)
    x = np.ones((1, 1, 1, 2))
    out, indices = kernels.max_pool2d(x, (1, 2), 1, (0, 1), (1, 3), return_indices=True)
    ref_out, ref_indices = reference.max_pool2d(x, (1, 2), 1, (0, 1), (1, 3), return_indices=True)
    assert (indices == -1).any(), "the configuration must have a window of padding alone"
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(indices, ref_indices)


@pytest.mark.parametrize("call, message", [
    (lambda: kernels.max_pool2d(np.zeros((1, 1, 2, 2)), 3), "output size is too small"),
    (lambda: kernels.avg_pool2d(np.zeros((1, 2, 2)), 2, padding=2), "pad should be at most"),
    (lambda: kernels.max_pool2d(np.zeros((2, 2)), 2), "expected 3D"),
])
def test_errors_are_the_reference_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_an_empty_batch_goes_forward_and_backward_as_in_the_reference(pool):
    x = np.zeros((0, 3, 8, 8), np.float32)
    if pool == "max":
        out_ref, indices_ref = reference.max_pool2d(x, 2, return_indices=True)
        out_fast, indices_fast = kernels.max_pool2d(x, 2, return_indices=True)
        grad_ref = reference.max_pool2d_backward(np.ones_like(out_ref), indices_ref, x.shape)
        grad_fast = kernels.max_pool2d_backward(np.ones_like(out_fast), indices_fast, x.shape)
    else:
        out_ref, out_fast = reference.avg_pool2d(x, 2), kernels.avg_pool2d(x, 2)
        grad_ref = reference.avg_pool2d_backward(np.ones_like(out_ref), x.shape, 2)
        grad_fast = kernels.avg_pool2d_backward(np.ones_like(out_fast), x.shape, 2)
    assert out_fast.shape == out_ref.shape == (0, 3, 4, 4)
    assert grad_fast.shape == grad_ref.shape == x.shape
    assert grad_fast.dtype == grad_ref.dtype == np.float32
