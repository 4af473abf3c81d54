"""Activation layers against torch.nn: repr, forward, backward, caching, in-place and errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import minicnn
from minicnn.nn.activation import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh
from tests.helpers import assert_close

DTYPES = [np.float64, np.float32]


def random_array(shape, dtype, seed, zeros=True):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * 3)
    if zeros and x.size:
        x.flat[rng.integers(0, x.size, size=max(1, x.size // 4))] = 0.0
    return x.astype(dtype)


# (minicnn layer, torch layer, smallest input rank the layer accepts)
CONFIGS = {
    "ReLU": (lambda: ReLU(), lambda: torch.nn.ReLU(), 0),
    "ReLU-inplace": (lambda: ReLU(inplace=True), lambda: torch.nn.ReLU(inplace=True), 0),
    "LeakyReLU": (lambda: LeakyReLU(), lambda: torch.nn.LeakyReLU(), 0),
    "LeakyReLU-0.3": (lambda: LeakyReLU(0.3), lambda: torch.nn.LeakyReLU(0.3), 0),
    "LeakyReLU-neg-inplace": (lambda: LeakyReLU(-0.5, inplace=True),
                              lambda: torch.nn.LeakyReLU(-0.5), 0),
    "Sigmoid": (lambda: Sigmoid(), lambda: torch.nn.Sigmoid(), 0),
    "Tanh": (lambda: Tanh(), lambda: torch.nn.Tanh(), 0),
    "GELU": (lambda: GELU(), lambda: torch.nn.GELU(), 0),
    "GELU-tanh": (lambda: GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh"), 0),
    "SiLU": (lambda: SiLU(), lambda: torch.nn.SiLU(), 0),
    "SiLU-inplace": (lambda: SiLU(inplace=True), lambda: torch.nn.SiLU(inplace=True), 0),
    "Softmax-1": (lambda: Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), 2),
    "Softmax-0": (lambda: Softmax(0), lambda: torch.nn.Softmax(0), 1),
    "Softmax--1": (lambda: Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1), 1),
    "LogSoftmax-1": (lambda: LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1), 2),
    "LogSoftmax--2": (lambda: LogSoftmax(-2), lambda: torch.nn.LogSoftmax(-2), 2),
}


# torch refuses the backward of an in-place LeakyReLU with a negative slope (it cannot recover
# the sign from the output); minicnn keeps a mask, so it can, and its oracle is out-of-place.
SAME_ARGUMENTS_AS_TORCH = [n for n in CONFIGS if n != "LeakyReLU-neg-inplace"]


@pytest.mark.parametrize("name", SAME_ARGUMENTS_AS_TORCH)
def test_repr_matches_torch(name):
    make, make_torch, _ = CONFIGS[name]
    assert repr(make()) == repr(make_torch())


@pytest.mark.parametrize("make, make_torch", [
    (lambda: ReLU(False), lambda: torch.nn.ReLU(False)),
    (lambda: GELU("none"), lambda: torch.nn.GELU("none")),
    (lambda: SiLU(False), lambda: torch.nn.SiLU(False)),
    (lambda: LeakyReLU(negative_slope=0.2), lambda: torch.nn.LeakyReLU(negative_slope=0.2)),
    (lambda: LeakyReLU(1, True), lambda: torch.nn.LeakyReLU(1, True)),
    (lambda: Softmax(), lambda: torch.nn.Softmax()),
    (lambda: LogSoftmax(), lambda: torch.nn.LogSoftmax()),
])
def test_repr_of_other_arguments_matches_torch(make, make_torch):
    assert repr(make()) == repr(make_torch())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CONFIGS)
@settings(max_examples=15, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_forward_and_backward_match_torch(dtype, name, data, seed):
    make, make_torch, min_dims = CONFIGS[name]
    shape = data.draw(array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=5))
    x = random_array(shape, dtype, seed)
    grad_output = random_array(shape, dtype, seed + 1, zeros=False)
    # torch's in-place layers need a non-leaf input; a clone of a leaf is one.
    x_t = torch.tensor(x, requires_grad=True)
    y_t = make_torch()(x_t.clone())
    y_t.backward(torch.tensor(grad_output))

    layer = make()
    y = layer(x.copy())
    assert_close(y, y_t, dtype, f"{name} forward")
    grad_output_before = grad_output.copy()
    assert_close(layer.backward(grad_output), x_t.grad, dtype, f"{name} backward")
    np.testing.assert_array_equal(grad_output, grad_output_before,
                                  err_msg="backward must not modify grad_output")


@pytest.mark.parametrize("name", [n for n in CONFIGS if "inplace" not in n])
def test_forward_leaves_the_input_unchanged(name):
    x = random_array((3, 4), np.float64, 0)
    x_before = x.copy()
    CONFIGS[name][0]()(x)
    np.testing.assert_array_equal(x, x_before, err_msg=f"{name} modified its input")


def test_inplace_silu_writes_into_the_input_and_keeps_a_copy_for_its_backward():
    x = np.array([[-2.0, 0.0, 3.0], [1.0, -1.0, 0.5]])
    twin = SiLU()  # out of place: its gradient is the expected one
    twin(x.copy())
    expected_grad = twin.backward(np.ones_like(x))
    layer = SiLU(inplace=True)
    out = layer(x)
    assert out is x, "inplace=True must write into and return the input array, as torch does"
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), expected_grad)


@pytest.mark.parametrize("make", [lambda: GELU(), lambda: GELU("tanh"), lambda: SiLU()])
def test_gelu_and_silu_agree_with_finite_differences(make):
    x = np.random.default_rng(0).standard_normal((3, 4)) * 3
    report = minicnn.gradcheck(make(), x)
    assert report.passed, str(report)


def test_gelu_approximate_must_be_none_or_tanh():
    with pytest.raises(RuntimeError) as torch_error:
        torch.nn.GELU("exact")(torch.ones(2))
    # torch only complains at the first forward; minicnn at construction, with its sentence.
    with pytest.raises(ValueError, match=f"^GELU: {torch_error.value.args[0][:-1]}, got 'exact'"):
        GELU("exact")


@pytest.mark.parametrize("make", [lambda: ReLU(inplace=True), lambda: LeakyReLU(0.1, True)])
def test_inplace_writes_into_the_input_and_keeps_gradients_right(make):
    x = np.array([[-2.0, 0.0, 3.0], [1.0, -1.0, 0.5]])
    layer = make()
    out = layer(x)
    assert out is x, "inplace=True must write into and return the input array, as torch does"
    grad = layer.backward(np.ones_like(x))
    slope = getattr(layer, "negative_slope", 0.0)
    np.testing.assert_array_equal(grad, [[slope, slope, 1.0], [1.0, slope, 1.0]],
                                  err_msg="the mask must be taken before the input is overwritten")


def test_caches_hold_only_what_backward_needs():
    x = random_array((2, 3), np.float64, 0)
    relu = ReLU()
    relu(x)
    assert relu._positive.dtype == np.bool_, "ReLU keeps a boolean mask"
    sigmoid = Sigmoid()
    y = sigmoid(x)
    assert sigmoid._output is y, "Sigmoid keeps its output, not a copy of the input"


@pytest.mark.parametrize("name", CONFIGS)
def test_float32_stays_float32(name):
    layer = CONFIGS[name][0]()
    x = random_array((2, 3), np.float32, 0)
    y = layer(x)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


@pytest.mark.parametrize("name", CONFIGS)
def test_backward_before_forward_or_twice_raises_naming_the_layer(name):
    layer = CONFIGS[name][0]()
    label = re.escape(repr(layer))
    with pytest.raises(RuntimeError, match=rf"^{label}: backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 3)))
    layer(np.ones((2, 3)))
    layer.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=rf"^{label}: backward\(\) called before forward\(\)"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("name", CONFIGS)
def test_bad_inputs_raise_naming_the_layer(name):
    layer = CONFIGS[name][0]()
    label = re.escape(repr(layer))
    with pytest.raises(TypeError, match=rf"^{label}: expected a numpy.ndarray input, got list"):
        layer([[1.0, 2.0]])
    with pytest.raises(TypeError, match=rf"^{label}: expected a float32 or float64 input"):
        layer(np.ones((2, 3), dtype=np.int64))
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"^{label}: expected grad_output of shape \(2, 3\)"):
        layer.backward(np.ones((3, 2)))


@pytest.mark.parametrize("layer_class, name", [(Softmax, "softmax"), (LogSoftmax, "log_softmax")])
@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
def test_implicit_dim_warns_and_picks_torchs_dim(layer_class, name, ndim):
    x = random_array((2, 3, 4, 5)[:ndim], np.float64, ndim, zeros=False)
    g = random_array(x.shape, np.float64, ndim + 1, zeros=False)
    torch_layer = getattr(torch.nn, layer_class.__name__)()
    x_t = torch.tensor(x, requires_grad=True)
    message = f"Implicit dimension choice for {name} has been deprecated"
    with pytest.warns(UserWarning, match=message):
        y_t = torch_layer(x_t)
    y_t.backward(torch.tensor(g))
    layer = layer_class()
    with pytest.warns(UserWarning, match=message) as record:
        y = layer(x)
    assert record[0].filename == __file__, "the warning should point at the caller's line"
    assert_close(y, y_t, np.float64, "forward with dim=None")
    assert_close(layer.backward(g), x_t.grad, np.float64, "backward with dim=None")


@pytest.mark.parametrize("layer", [Softmax(dim=2), LogSoftmax(dim=-3)])
def test_dim_out_of_range_raises_naming_the_layer(layer):
    label = re.escape(repr(layer))
    with pytest.raises(ValueError, match=rf"^{label}: dim -?\d is out of range for a 2D input"):
        layer(np.ones((2, 3)))


@pytest.mark.parametrize("call, message", [
    (lambda: ReLU(inplace="yes"), "ReLU: inplace must be a bool, got 'yes'"),
    (lambda: LeakyReLU("0.1"), "LeakyReLU: negative_slope must be a number, got '0.1'"),
    (lambda: LeakyReLU(0.1, inplace=1), "LeakyReLU: inplace must be a bool, got 1"),
    (lambda: SiLU(inplace=None), "SiLU: inplace must be a bool, got None"),
    (lambda: Softmax(dim=1.0), "Softmax: dim must be an int or None, got 1.0"),
    (lambda: LogSoftmax(dim="1"), "LogSoftmax: dim must be an int or None, got '1'"),
])
def test_bad_arguments_raise_naming_the_layer(call, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        call()


def test_activations_have_no_parameters_or_state():
    for make, _, _ in CONFIGS.values():
        layer = make()
        assert list(layer.parameters()) == []
        assert list(layer.state_dict()) == []
