"""Linear and Identity against torch.nn: repr, init, forward, every gradient, errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.nn.linear import Identity, Linear
from tests.helpers import assert_close

DTYPES = [np.float64, np.float32]


def torch_dtype(dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def twin_layers(in_features, out_features, bias, dtype):
    """A torch Linear and a minicnn Linear holding the same weights."""
    torch_layer = torch.nn.Linear(in_features, out_features, bias=bias, dtype=torch_dtype(dtype))
    layer = Linear(in_features, out_features, bias=bias, dtype=dtype)
    layer.load_state_dict(torch_layer.state_dict())
    return layer, torch_layer


# ----------------------------------------------------------------- construction
@pytest.mark.parametrize("args, kwargs", [
    ((4, 3), {}), ((4, 3), {"bias": False}), ((1, 1), {}), ((10, 7), {"bias": True}),
    ((0, 2), {}),
])
@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
def test_repr_matches_torch(args, kwargs):
    assert repr(Linear(*args, **kwargs)) == repr(torch.nn.Linear(*args, **kwargs))


@pytest.mark.parametrize("bias", [True, False])
def test_parameters_have_torchs_names_shapes_and_float32(bias):
    layer, torch_layer = Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias)
    names = [(name, p.shape) for name, p in layer.named_parameters()]
    expected = [(name, tuple(p.shape)) for name, p in torch_layer.named_parameters()]
    assert names == expected
    assert all(p.dtype == np.float32 for p in layer.parameters())
    assert (layer.bias is None) == (not bias)
    assert Linear(5, 3, dtype=np.float64).weight.dtype == np.float64


@pytest.mark.parametrize("in_features, out_features", [(1, 300), (20, 500), (300, 40)])
def test_initialisation_is_torchs_distribution(in_features, out_features):
    # torch: kaiming_uniform_(a=sqrt(5)) and bias U(+-1/sqrt(fan_in)), i.e. both U(-k, k).
    minicnn.manual_seed(0)
    layer = Linear(in_features, out_features)
    bound = 1 / math.sqrt(in_features)
    for name, values in (("weight", layer.weight.data), ("bias", layer.bias.data)):
        assert np.abs(values).max() <= bound, f"{name} outside U(-{bound}, {bound})"
        if values.size >= 300:
            # U(-k, k) has mean 0 and variance k^2/3: check both to a few standard errors.
            n = values.size
            assert abs(values.mean()) < 5 * bound / math.sqrt(3 * n), f"{name} mean"
            assert abs(values.var() / (bound**2 / 3) - 1) < 5 * math.sqrt(0.8 / n), f"{name} var"
            assert np.abs(values).max() > 0.9 * bound, f"{name} does not reach its bound"
    torch_layer = torch.nn.Linear(in_features, out_features)
    assert torch_layer.weight.abs().max().item() <= bound, "torch's bound is the same k"


def test_initialisation_repeats_with_manual_seed():
    minicnn.manual_seed(42)
    first = Linear(6, 4)
    minicnn.manual_seed(42)
    second = Linear(6, 4)
    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    np.testing.assert_array_equal(first.bias.data, second.bias.data)
    assert not np.array_equal(first.weight.data, Linear(6, 4).weight.data)


@pytest.mark.parametrize("args, error, message", [
    ((4.0, 3), TypeError, "Linear: in_features must be an int, got 4.0"),
    ((4, True), TypeError, "Linear: out_features must be an int, got True"),
    ((-1, 3), ValueError, "Linear: in_features must be non-negative, got -1"),
    ((4, 3, True, np.int32), TypeError, "Linear: dtype must be float32 or float64, got int32"),
])
def test_bad_arguments_raise_naming_the_layer(args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        Linear(*args)


# ----------------------------------------------------------------- forward and backward
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40, deadline=None)
@given(
    leading=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
    in_features=st.integers(1, 8),
    out_features=st.integers(1, 8),
    bias=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_forward_and_gradients_match_torch(dtype, leading, in_features, out_features, bias, seed):
    layer, torch_layer = twin_layers(in_features, out_features, bias, dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(leading + (in_features,)).astype(dtype)
    grad_output = rng.standard_normal(leading + (out_features,)).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch_layer(x_t)
    y_t.backward(torch.tensor(grad_output))

    assert_close(layer(x), y_t, dtype, "forward")
    assert_close(layer.backward(grad_output), x_t.grad, dtype, "grad_input")
    assert_close(layer.weight.grad, torch_layer.weight.grad, dtype, "weight.grad")
    if bias:
        assert_close(layer.bias.grad, torch_layer.bias.grad, dtype, "bias.grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_backward_passes_add_their_gradients(dtype):
    layer, torch_layer = twin_layers(4, 3, True, dtype)
    rng = np.random.default_rng(0)
    for _ in range(2):
        x = rng.standard_normal((5, 4)).astype(dtype)
        g = rng.standard_normal((5, 3)).astype(dtype)
        layer(x)
        layer.backward(g)
        torch_layer(torch.tensor(x)).backward(torch.tensor(g))
    assert_close(layer.weight.grad, torch_layer.weight.grad, dtype, "accumulated weight.grad")
    assert_close(layer.bias.grad, torch_layer.bias.grad, dtype, "accumulated bias.grad")


def test_frozen_parameters_get_no_gradient():
    layer = Linear(3, 2)
    layer.weight.requires_grad = False
    layer(np.ones((4, 3), np.float32))
    layer.backward(np.ones((4, 2), np.float32))
    assert layer.weight.grad is None
    np.testing.assert_array_equal(layer.bias.grad, [4.0, 4.0])


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
def test_zero_in_features_gives_the_bias_and_an_empty_input_gradient():
    layer, torch_layer = twin_layers(0, 3, True, np.float64)
    x = np.zeros((2, 0))
    assert_close(layer(x), torch_layer(torch.tensor(x)), np.float64, "forward")
    assert layer.backward(np.ones((2, 3))).shape == (2, 0)


def test_float32_stays_float32_and_double_converts():
    layer = Linear(4, 3)
    y = layer(np.ones((2, 4), np.float32))
    assert y.dtype == np.float32
    assert layer.backward(np.ones((2, 3), np.float32)).dtype == np.float32
    assert layer.weight.grad.dtype == np.float32
    layer.double()
    assert layer(np.ones((2, 4))).dtype == np.float64


def test_forward_leaves_the_input_unchanged():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x_before = x.copy()
    layer = Linear(4, 2)
    layer(x)
    layer.backward(np.ones((3, 2), np.float32))
    np.testing.assert_array_equal(x, x_before)


# ----------------------------------------------------------------- errors
def test_wrong_in_features_names_the_layer():
    layer = Linear(4, 3)
    message = ("Linear(in_features=4, out_features=3, bias=True): expected input with last "
               "dimension 4, got 5 (input shape (2, 5))")
    with pytest.raises(ValueError, match=re.escape(message)):
        layer(np.ones((2, 5), np.float32))


def test_scalar_input_is_refused():
    with pytest.raises(ValueError, match=re.escape(
            "Linear(in_features=4, out_features=3, bias=True): expected input with at least "
            "1 dimension")):
        Linear(4, 3)(np.array(1.0, np.float32))


def test_dtype_mismatch_names_the_layer_and_the_fix():
    with pytest.raises(TypeError, match=re.escape(
            "Linear(in_features=4, out_features=3, bias=True): input dtype float64 does not "
            "match the parameters' dtype float32")):
        Linear(4, 3)(np.ones((2, 4)))


def test_backward_before_forward_or_twice_raises():
    layer = Linear(4, 3)
    pattern = r"^Linear\(in_features=4, out_features=3, bias=True\): backward\(\) called before"
    with pytest.raises(RuntimeError, match=pattern):
        layer.backward(np.ones((2, 3), np.float32))
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 3\)"):
        layer.backward(np.ones((2, 4), np.float32))
    layer.backward(np.ones((2, 3), np.float32))
    with pytest.raises(RuntimeError, match=pattern):
        layer.backward(np.ones((2, 3), np.float32))


# ----------------------------------------------------------------- Identity
def test_identity_ignores_its_arguments_and_passes_everything_through():
    layer = Identity(54, unused_argument1=0.1, unused_argument2=False)
    assert repr(layer) == repr(torch.nn.Identity(54, unused_argument1=0.1)) == "Identity()"
    x = np.ones((2, 3), np.float32)
    assert layer(x) is x
    g = np.full((2, 3), 2.0, np.float32)
    assert layer.backward(g) is g
    assert list(layer.parameters()) == []


def test_identity_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match=r"^Identity\(\): backward\(\) called before"):
        Identity().backward(np.ones(3))
