"""minicnn.kernels.activation (ReLU) against the NumPy reference and PyTorch."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from minicnn.functional import activation as reference
from minicnn.kernels import activation as kernels


@settings(max_examples=40, deadline=None)
@given(shape=array_shapes(min_dims=0, max_dims=4, max_side=6),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16),
       mask=st.sampled_from(["bool", "output", "input"]))
def test_relu_matches_reference_and_torch(shape, dtype, seed, mask):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(dtype)  # many exact zeros: the kink
    grad_output = rng.standard_normal(shape).astype(dtype)
    x_torch = torch.tensor(x, requires_grad=True)
    out_torch = torch.relu(x_torch)
    out_torch.backward(torch.tensor(grad_output))
    out = kernels.relu(x)
    assert out.dtype == x.dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, reference.relu(x))
    np.testing.assert_array_equal(out, out_torch.detach().numpy())
    kept = {"bool": x > 0, "output": out, "input": x}[mask]
    grad = kernels.relu_backward(grad_output, kept)
    assert grad.dtype == x.dtype and grad.shape == x.shape
    np.testing.assert_array_equal(grad, reference.relu_backward(grad_output, kept))
    np.testing.assert_array_equal(grad, x_torch.grad.numpy())


def test_inplace_writes_into_the_input_and_nan_stays_nan():
    x = np.array([[-1.0, np.nan], [2.0, 0.0]], np.float32)
    result = kernels.relu(x, inplace=True)
    assert result is x, "inplace=True must return the input array itself"
    np.testing.assert_array_equal(x, [[0.0, np.nan], [2.0, 0.0]])
    strided = np.array([[-1.0, 5.0, -2.0, 3.0]])[:, ::2]
    kernels.relu(strided, inplace=True)
    np.testing.assert_array_equal(strided, [[0.0, 0.0]])


def test_inputs_are_not_modified_without_inplace():
    x = np.array([-1.0, 2.0])
    grad_output = np.array([5.0, 6.0])
    kernels.relu_backward(grad_output, kernels.relu(x))
    np.testing.assert_array_equal(x, [-1.0, 2.0])
    np.testing.assert_array_equal(grad_output, [5.0, 6.0])
