"""Flatten against torch.nn.Flatten: repr, shapes over all dim ranges, backward, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from minicnn.nn.flatten import Flatten


@pytest.mark.parametrize("args", [(), (0,), (1, -1), (2, 3), (-3, -2), (0, 0)])
def test_repr_matches_torch(args):
    assert repr(Flatten(*args)) == repr(torch.nn.Flatten(*args))


@st.composite
def shape_and_dims(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4))
    rank = max(len(shape), 1)
    start = draw(st.integers(-rank, rank - 1))
    end = draw(st.integers(-rank, rank - 1).filter(lambda e: e % rank >= start % rank))
    return shape, start, end


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=40, deadline=None)
@given(case=shape_and_dims(), seed=st.integers(0, 2**32 - 1))
def test_forward_and_backward_match_torch(dtype, case, seed):
    shape, start, end = case
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape), dtype=dtype)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch.nn.Flatten(start, end)(x_t)
    grad_output = np.asarray(rng.standard_normal(tuple(y_t.shape)), dtype=dtype)
    y_t.backward(torch.tensor(grad_output))

    layer = Flatten(start, end)
    y = layer(x)
    assert y.shape == tuple(y_t.shape) and y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    grad_input = layer.backward(grad_output)
    assert grad_input.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(grad_input, x_t.grad.numpy())


def test_default_keeps_the_batch_dimension():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    layer = Flatten()
    y = layer(x)
    assert y.shape == (2, 60)
    assert np.shares_memory(y, x), "Flatten only reshapes: the output is a view, as in torch"
    assert layer.backward(np.ones((2, 60), np.float32)).shape == (2, 3, 4, 5)


@pytest.mark.parametrize("args, shape, message", [
    ((), (5,), "Flatten(start_dim=1, end_dim=-1): start_dim=1 is out of range for a 1D input "
               "of shape (5,) (expected a dim in [-1, 0])"),
    ((0, 3), (2, 3), "Flatten(start_dim=0, end_dim=3): end_dim=3 is out of range for a 2D input"),
    ((1, 0), (2, 3), "Flatten(start_dim=1, end_dim=0): start_dim cannot come after end_dim for "
                     "a 2D input of shape (2, 3) (they resolve to 1 and 0)"),
])
def test_bad_dims_raise_naming_the_layer(args, shape, message):
    with pytest.raises(Exception) as torch_error:  # torch raises IndexError/RuntimeError here
        torch.nn.Flatten(*args)(torch.zeros(shape))
    assert isinstance(torch_error.value, (IndexError, RuntimeError))
    with pytest.raises(ValueError, match=re.escape(message)):
        Flatten(*args)(np.zeros(shape))


@pytest.mark.parametrize("args, message", [
    ((1.0,), "Flatten: start_dim must be an int, got 1.0"),
    ((1, None), "Flatten: end_dim must be an int, got None"),
])
def test_bad_arguments_raise_naming_the_layer(args, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        Flatten(*args)


def test_backward_before_forward_or_with_a_wrong_shape_raises():
    layer = Flatten()
    with pytest.raises(RuntimeError, match=r"^Flatten\(start_dim=1, end_dim=-1\): backward\(\)"):
        layer.backward(np.ones((2, 6)))
    layer(np.ones((2, 2, 3)))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 6\)"):
        layer.backward(np.ones((2, 2, 3)))
