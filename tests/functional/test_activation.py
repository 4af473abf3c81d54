"""minicnn.functional.activation against torch.nn.functional: forward and input gradient."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import minicnn
from minicnn.functional import activation as F
from tests.helpers import assert_close

DTYPES = [np.float64, np.float32]
SHAPES = array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5)


def random_input(shape, dtype, seed, with_zeros=True):
    """Normal values, with some exact zeros so the kink at 0 is exercised."""
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape))
    if with_zeros and x.size:
        x.flat[rng.integers(0, x.size, size=max(1, x.size // 4))] = 0.0
    return x.astype(dtype)


def torch_forward_backward(torch_fn, x, grad_output):
    """torch's output and input gradient for ``torch_fn`` at ``x`` with ``grad_output``."""
    x_t = torch.tensor(x, requires_grad=True)
    y_t = torch_fn(x_t)
    y_t.backward(torch.tensor(grad_output))
    return y_t.detach().numpy(), x_t.grad.numpy()


# ----------------------------------------------------------------- element-wise activations
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**32 - 1))
def test_relu_matches_torch(dtype, shape, seed):
    x = random_input(shape, dtype, seed)
    g = random_input(shape, dtype, seed + 1, with_zeros=False)
    y_expected, gx_expected = torch_forward_backward(TF.relu, x, g)
    y = F.relu(x)
    assert_close(y, y_expected, dtype, "relu forward")
    # The backward may be given the input, the output or the boolean mask: all agree.
    for kept in (x, y, x > 0):
        assert_close(F.relu_backward(g, kept), gx_expected, dtype, "relu backward")


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**32 - 1),
       slope=st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False))
def test_leaky_relu_matches_torch(dtype, shape, seed, slope):
    x = random_input(shape, dtype, seed)
    g = random_input(shape, dtype, seed + 1, with_zeros=False)
    y_expected, gx_expected = torch_forward_backward(
        lambda t: TF.leaky_relu(t, slope), x, g)
    assert_close(F.leaky_relu(x, slope), y_expected, dtype, "leaky_relu forward")
    assert_close(F.leaky_relu_backward(g, x, slope), gx_expected, dtype, "leaky_relu backward")
    assert_close(F.leaky_relu_backward(g, x > 0, slope), gx_expected, dtype,
                 "leaky_relu backward from the mask")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "forward, backward, torch_fn",
    [(F.sigmoid, F.sigmoid_backward, torch.sigmoid), (F.tanh, F.tanh_backward, torch.tanh)],
    ids=["sigmoid", "tanh"],
)
@settings(max_examples=40, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**32 - 1), spread=st.sampled_from([1.0, 10.0]))
def test_output_based_activations_match_torch(dtype, forward, backward, torch_fn, shape, seed,
                                              spread):
    x = (random_input(shape, np.float64, seed) * spread).astype(dtype)
    g = random_input(shape, dtype, seed + 1, with_zeros=False)
    y_expected, gx_expected = torch_forward_backward(torch_fn, x, g)
    y = forward(x)
    assert_close(y, y_expected, dtype, "forward")
    assert_close(backward(g, y), gx_expected, dtype, "backward from the output")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "forward, backward, torch_fn",
    [(F.gelu, F.gelu_backward, TF.gelu),
     (lambda x: F.gelu(x, "tanh"), lambda g, x: F.gelu_backward(g, x, "tanh"),
      lambda t: TF.gelu(t, approximate="tanh")),
     (F.silu, F.silu_backward, TF.silu)],
    ids=["gelu", "gelu-tanh", "silu"],
)
@settings(max_examples=40, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**32 - 1), spread=st.sampled_from([1.0, 10.0]))
def test_input_based_activations_match_torch(dtype, forward, backward, torch_fn, shape, seed,
                                             spread):
    x = (random_input(shape, np.float64, seed) * spread).astype(dtype)
    g = random_input(shape, dtype, seed + 1, with_zeros=False)
    y_expected, gx_expected = torch_forward_backward(torch_fn, x, g)
    assert_close(forward(x), y_expected, dtype, "forward")
    assert_close(backward(g, x), gx_expected, dtype, "backward from the input")


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_backward_agrees_with_finite_differences(approximate):
    x = np.linspace(-5, 5, 41)
    report = minicnn.gradcheck(lambda x: F.gelu(x, approximate), x,
                               backward=lambda g, x: F.gelu_backward(g, x, approximate))
    assert report.passed, str(report)


def test_gelu_is_between_relu_and_the_identity_where_it_should_be():
    """GELU(x) = x * P(Z <= x): near 0 for very negative x, near x for large x, 0 at 0."""
    x = np.array([-10.0, 0.0, 10.0])
    np.testing.assert_allclose(F.gelu(x), [0.0, 0.0, 10.0], atol=1e-20)
    np.testing.assert_allclose(F.silu(x), x / (1 + np.exp(-x)))


def test_gelu_refuses_an_unknown_approximation():
    with pytest.raises(ValueError, match="gelu: approximate argument must be either none or "
                                         "tanh, got 'erf'"):
        F.gelu(np.ones(2), "erf")


def test_kinks_follow_torch():
    x = np.array([-1.0, 0.0, 1.0])
    g = np.ones(3)
    np.testing.assert_array_equal(F.relu_backward(g, x), [0.0, 0.0, 1.0],
                                  err_msg="ReLU's derivative at 0 must be 0, as torch's")
    np.testing.assert_array_equal(F.leaky_relu_backward(g, x, 0.1), [0.1, 0.1, 1.0],
                                  err_msg="LeakyReLU's derivative at 0 must be the slope")


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_does_not_overflow(dtype):
    x = np.array([-1000.0, -80.0, 0.0, 80.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow RuntimeWarning would fail the test
        y = F.sigmoid(x)
    assert_close(y, torch.sigmoid(torch.tensor(x)), dtype, "sigmoid at large |x|")


@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_variants_write_into_the_input(dtype):
    x = np.array([-2.0, 0.0, 3.0], dtype=dtype)
    out = F.relu(x, inplace=True)
    assert out is x, "relu(inplace=True) must return the input array"
    np.testing.assert_array_equal(x, [0.0, 0.0, 3.0])
    x = np.array([-2.0, 0.0, 3.0], dtype=dtype)
    out = F.leaky_relu(x, 0.5, inplace=True)
    assert out is x, "leaky_relu(inplace=True) must return the input array"
    np.testing.assert_array_equal(x, [-1.0, 0.0, 3.0])
    x = np.array([-2.0, 0.0, 3.0], dtype=dtype)
    expected = F.silu(x.copy())
    out = F.silu(x, inplace=True)
    assert out is x, "silu(inplace=True) must return the input array"
    np.testing.assert_array_equal(x, expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda x, g: F.relu(x), lambda x, g: F.leaky_relu(x, 0.2), lambda x, g: F.sigmoid(x),
        lambda x, g: F.tanh(x), lambda x, g: F.softmax(x, 1), lambda x, g: F.log_softmax(x, 0),
        lambda x, g: F.relu_backward(g, x), lambda x, g: F.leaky_relu_backward(g, x, 0.2),
        lambda x, g: F.sigmoid_backward(g, x), lambda x, g: F.tanh_backward(g, x),
        lambda x, g: F.softmax_backward(g, x, 1), lambda x, g: F.log_softmax_backward(g, x, 1),
        lambda x, g: F.gelu(x), lambda x, g: F.gelu_backward(g, x, "tanh"),
        lambda x, g: F.silu(x), lambda x, g: F.silu_backward(g, x),
    ],
)
def test_functions_leave_their_arguments_unchanged(call):
    x = random_input((3, 4), np.float64, 0)
    g = random_input((3, 4), np.float64, 1)
    x_before, g_before = x.copy(), g.copy()
    call(x, g)
    np.testing.assert_array_equal(x, x_before, err_msg="the input was modified")
    np.testing.assert_array_equal(g, g_before, err_msg="grad_output was modified")


# ----------------------------------------------------------------- softmax and log_softmax
@st.composite
def shape_and_dim(draw):
    shape = draw(SHAPES)
    rank = max(len(shape), 1)
    return shape, draw(st.integers(-rank, rank - 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "forward, backward, torch_fn",
    [(F.softmax, F.softmax_backward, TF.softmax),
     (F.log_softmax, F.log_softmax_backward, TF.log_softmax)],
    ids=["softmax", "log_softmax"],
)
@settings(max_examples=40, deadline=None)
@given(case=shape_and_dim(), seed=st.integers(0, 2**32 - 1),
       spread=st.sampled_from([1.0, 30.0]))
def test_softmaxes_match_torch(dtype, forward, backward, torch_fn, case, seed, spread):
    shape, dim = case
    x = (random_input(shape, np.float64, seed) * spread).astype(dtype)
    g = random_input(shape, dtype, seed + 1, with_zeros=False)
    y_expected, gx_expected = torch_forward_backward(lambda t: torch_fn(t, dim), x, g)
    y = forward(x, dim)
    assert_close(y, y_expected, dtype, "forward")
    assert_close(backward(g, y, dim), gx_expected, dtype, "backward from the output")


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmaxes_are_stable_for_huge_inputs(dtype):
    x = np.array([[1000.0, 0.0, -1000.0], [3e4, 3e4, 3e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p, logp = F.softmax(x, 1), F.log_softmax(x, 1)
    assert_close(p, TF.softmax(torch.tensor(x), 1), dtype, "softmax")
    assert_close(logp, TF.log_softmax(torch.tensor(x), 1), dtype, "log_softmax")


@pytest.mark.parametrize("shape, dim", [((3, 0), 1), ((0, 4), 1), ((2, 0, 3), 1)])
def test_softmaxes_of_empty_inputs_are_empty_as_in_torch(shape, dim):
    x = np.zeros(shape)
    assert F.softmax(x, dim).shape == tuple(TF.softmax(torch.tensor(x), dim).shape) == shape
    assert F.log_softmax(x, dim).shape == shape


@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("name, fn, torch_fn", [("softmax", F.softmax, TF.softmax),
                                                ("log_softmax", F.log_softmax, TF.log_softmax)])
def test_implicit_dim_follows_torch_and_warns(ndim, name, fn, torch_fn):
    x = random_input((2, 3, 4, 5)[:ndim], np.float64, ndim, with_zeros=False)
    message = f"Implicit dimension choice for {name} has been deprecated"
    with pytest.warns(UserWarning, match=message):
        expected = torch_fn(torch.tensor(x))
    with pytest.warns(UserWarning, match=message):
        actual = fn(x)
    assert_close(actual, expected, np.float64, f"{name} with dim=None at {ndim}D")


@pytest.mark.parametrize("dim", [2, -3, 7])
def test_softmax_rejects_a_dim_out_of_range(dim):
    with pytest.raises(ValueError, match=rf"softmax: dim {dim} is out of range for a 2D input"):
        F.softmax(np.zeros((2, 3)), dim)
    with pytest.raises(ValueError, match=rf"log_softmax: dim {dim} is out of range"):
        F.log_softmax(np.zeros((2, 3)), dim)


def test_softmax_rejects_a_non_integer_dim():
    with pytest.raises(TypeError, match=re.escape("softmax: dim must be an int or None, got 1.0")):
        F.softmax(np.zeros((2, 3)), 1.0)
