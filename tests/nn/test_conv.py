"""Conv2d against torch.nn.Conv2d: outputs, every gradient, repr, init, and its errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.functional.conv import conv2d_padding_sides
from minicnn.nn.conv import Conv2d
from tests.helpers import assert_close
from tests.helpers.twins import TORCH_DTYPES

SETTINGS = settings(max_examples=40, deadline=None)
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's perf note


@st.composite
def layer_configs(draw):
    """Conv2d constructor arguments (every option) and an input shape they accept."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_channels = groups * draw(st.integers(1, 2))  # 1 per group with groups > 1: depthwise
    out_channels = groups * draw(st.integers(1, 2))
    kernel_size = draw(st.one_of(st.integers(1, 4),
                                 st.tuples(st.integers(1, 4), st.integers(1, 4))))
    dilation = draw(st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 2), st.integers(1, 2))))
    padding = draw(st.one_of(
        st.integers(0, 2),
        st.tuples(st.integers(0, 2), st.integers(0, 2)),
        st.sampled_from(["same", "valid"]),
    ))
    if padding == "same":
        stride = 1
    else:
        stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding_mode = draw(st.sampled_from(PADDING_MODES))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
                  bias=draw(st.booleans()), padding_mode=padding_mode)
    top, bottom, left, right = conv2d_padding_sides(padding, kernel_size, dilation, stride)
    kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
    dh, dw = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    # Big enough for the dilated kernel after padding, and for reflect (pad < size).
    min_h = max(1, dh * (kh - 1) + 1 - top - bottom, max(top, bottom) + 1)
    min_w = max(1, dw * (kw - 1) + 1 - left - right, max(left, right) + 1)
    height, width = draw(st.integers(min_h, min_h + 4)), draw(st.integers(min_w, min_w + 4))
    batch = draw(st.sampled_from([None, 1, 2, 3]))  # None: unbatched (C, H, W)
    shape = (in_channels, height, width) if batch is None else (batch, in_channels, height, width)
    return (in_channels, out_channels, kernel_size), kwargs, shape


def make_pair(args, kwargs, dtype):
    """A torch Conv2d and a minicnn Conv2d holding the same parameters."""
    torch_layer = torch.nn.Conv2d(*args, **kwargs, dtype=TORCH_DTYPES[dtype])
    layer = Conv2d(*args, **kwargs, dtype=dtype)
    layer.load_state_dict(torch_layer.state_dict())
    return layer, torch_layer


# ---------------------------------------------------------------------------- parity with torch
@SETTINGS
@given(layer_configs(), st.sampled_from([np.float64, np.float32]), st.integers(0, 2**32 - 1))
def test_forward_and_backward_match_torch(config, dtype, seed):
    args, kwargs, shape = config
    rng = np.random.default_rng(seed)
    layer, torch_layer = make_pair(args, kwargs, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = torch_layer(x_t)
    x_copy = x.copy()

    out = layer(x)
    assert_close(out, out_t.detach().numpy(), dtype, f"output {args} {kwargs}")
    grad_output = rng.standard_normal(out.shape).astype(dtype)
    grad_copy = grad_output.copy()
    out_t.backward(torch.tensor(grad_output))
    grad_input = layer.backward(grad_output)

    assert_close(grad_input, x_t.grad.numpy(), dtype, f"grad_input {args} {kwargs}")
    assert_close(layer.weight.grad, torch_layer.weight.grad.numpy(), dtype, f"weight.grad {kwargs}")
    if kwargs["bias"]:
        assert_close(layer.bias.grad, torch_layer.bias.grad.numpy(), dtype, f"bias.grad {kwargs}")
    np.testing.assert_array_equal(x, x_copy, err_msg="forward/backward modified the input")
    np.testing.assert_array_equal(grad_output, grad_copy, err_msg="backward modified grad_output")


@settings(max_examples=60, deadline=None)
@given(layer_configs())
def test_repr_matches_torch(config):
    args, kwargs, _ = config
    assert repr(Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"padding": 2}, {"padding": (0, 0)}, {"padding": "valid"}, {"padding": "same"},
     {"bias": False}, {"padding_mode": "reflect", "padding": 1}, {"groups": 2},
     {"dilation": (2, 1), "stride": (1, 3)}],
)
def test_repr_and_state_dict_keys_match_torch_by_hand(kwargs):
    layer, torch_layer = Conv2d(2, 6, 5, **kwargs), torch.nn.Conv2d(2, 6, 5, **kwargs)
    assert repr(layer) == repr(torch_layer)
    assert list(layer.state_dict()) == list(torch_layer.state_dict())
    for name, param in torch_layer.named_parameters():
        assert getattr(layer, name).shape == tuple(param.shape), f"{name} shape"
    assert (layer.bias is None) == (torch_layer.bias is None)


def test_lenet_first_layer_repr():
    assert repr(Conv2d(1, 6, 5, padding=2)) == (
        "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"
    )


# ---------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize(("args", "kwargs"), [((3, 64, 3), {}), ((8, 32, (5, 3)), {"groups": 4})])
def test_default_init_is_uniform_within_one_over_sqrt_fan_in(args, kwargs):
    minicnn.manual_seed(0)
    layer = Conv2d(*args, **kwargs)
    fan_in = layer.weight.shape[1] * layer.weight.shape[2] * layer.weight.shape[3]
    bound = 1 / math.sqrt(fan_in)
    # torch's own bound for the same layer, read from its init code path: kaiming_uniform_
    # with a=sqrt(5) gives gain*sqrt(3/fan_in) = 1/sqrt(fan_in).
    torch_fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(
        torch.nn.Conv2d(*args, **kwargs).weight
    )
    assert fan_in == torch_fan_in
    for name in ("weight", "bias"):
        values = getattr(layer, name).data
        assert values.dtype == np.float32, f"{name} must default to float32"
        assert np.abs(values).max() <= bound, f"{name} escapes U(-{bound}, {bound})"
    weights = layer.weight.data
    # Loose spread checks: uniform on [-b, b] has std b/sqrt(3) and reaches near both ends.
    assert weights.min() < -0.8 * bound and weights.max() > 0.8 * bound
    assert abs(weights.std() - bound / math.sqrt(3)) < 0.15 * bound / math.sqrt(3)
    assert abs(weights.mean()) < 0.1 * bound


def test_init_follows_manual_seed_and_generator():
    minicnn.manual_seed(123)
    first = Conv2d(2, 4, 3).state_dict()
    minicnn.manual_seed(123)
    second = Conv2d(2, 4, 3).state_dict()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=f"{key} not reproducible")
    layer = Conv2d(2, 4, 3)
    layer.reset_parameters(generator=np.random.default_rng(7))
    again = Conv2d(2, 4, 3)
    again.reset_parameters(generator=np.random.default_rng(7))
    np.testing.assert_array_equal(layer.weight.data, again.weight.data)


# ---------------------------------------------------------------------------- dtype and state
def test_float32_stays_float32_and_double_converts():
    layer = Conv2d(2, 3, 3, padding=1, padding_mode="circular")
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32)
    out = layer(x)
    grad = layer.backward(np.ones_like(out))
    for name, array in (("output", out), ("grad_input", grad), ("weight.grad", layer.weight.grad),
                        ("bias.grad", layer.bias.grad)):
        assert array.dtype == np.float32, f"{name} came out as {array.dtype}"
    layer.double()
    assert layer(x.astype(np.float64)).dtype == np.float64


def test_gradients_accumulate_over_backward_passes():
    rng = np.random.default_rng(3)
    layer = Conv2d(2, 3, 3, stride=2, dtype=np.float64)
    x1, x2 = rng.standard_normal((2, 2, 7, 7)), rng.standard_normal((2, 2, 7, 7))
    g1, g2 = rng.standard_normal((2, 3, 3, 3)), rng.standard_normal((2, 3, 3, 3))
    layer(x1)
    layer.backward(g1)
    first = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer.zero_grad()
    layer(x2)
    layer.backward(g2)
    second = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer.zero_grad()
    layer(x1)
    layer.backward(g1)
    layer(x2)
    layer.backward(g2)
    for name, param in layer.named_parameters():
        assert_close(param.grad, first[name] + second[name], np.float64,
                     f"{name}.grad must be the sum")


def test_frozen_parameters_get_no_gradient():
    layer = Conv2d(1, 2, 3, dtype=np.float64)
    layer.weight.requires_grad = False
    layer(np.ones((1, 1, 4, 4)))
    grad_input = layer.backward(np.ones((1, 2, 2, 2)))
    assert layer.weight.grad is None
    assert layer.bias.grad is not None
    assert grad_input.shape == (1, 1, 4, 4)


def test_output_size_matches_forward():
    layer = Conv2d(1, 2, (3, 4), stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    out = layer(np.zeros((1, 1, 9, 10), np.float32))
    assert layer.output_size(9, 10) == out.shape[2:]


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((4, 2, 3), {"groups": 3}, ValueError, "in_channels must be divisible by groups"),
        ((3, 4, 3), {"groups": 3}, ValueError, "out_channels must be divisible by groups"),
        ((2, 2, 3), {"groups": 0}, ValueError, "groups must be a positive integer"),
        ((1, 1, 3), {"padding": "same", "stride": 2}, ValueError,
         "padding='same' is not supported for strided convolutions"),
        ((1, 1, 3), {"padding": "full"}, ValueError,
         r"Invalid padding string 'full', should be one of"),
        ((1, 1, 3), {"padding_mode": "constant"}, ValueError,
         r"padding_mode must be one of .*but got padding_mode='constant'"),
        ((1, 1, 3), {"padding": -1}, ValueError, "negative padding is not supported"),
        ((1, 1, 3), {"stride": 0}, ValueError, "stride should be greater than zero"),
        ((1, 1, 3), {"dilation": (1, 0)}, ValueError, "dilation should be greater than zero"),
        ((1, 1, 0), {}, ValueError, "kernel_size should be greater than zero"),
        ((0, 1, 3), {}, ValueError, "in_channels must be a positive integer"),
        ((1, -2, 3), {}, ValueError, "out_channels must be a positive integer"),
        ((1, 1, 2.5), {}, TypeError, "kernel_size must be an int or a pair of ints"),
        ((1, 1, 3), {"dtype": np.int32}, TypeError, "dtype must be float32 or float64"),
    ],
)
def test_bad_constructor_arguments_raise_naming_the_layer(args, kwargs, error, message):
    with pytest.raises(error, match=f"^Conv2d: .*{message}"):
        Conv2d(*args, **kwargs)


def test_constructor_messages_match_torch_where_torch_checks_at_construction():
    for kwargs in ({"groups": 3}, {"padding": "same", "stride": 2}, {"padding": "full"}):
        with pytest.raises(ValueError) as torch_error:
            torch.nn.Conv2d(4, 2, 3, **kwargs)
        torch_sentence = str(torch_error.value).split(",")[0]
        with pytest.raises(ValueError, match=f"^Conv2d: {torch_sentence}"):
            Conv2d(4, 2, 3, **kwargs)


def test_kernel_larger_than_padded_input_raises_torch_sentence():
    layer = Conv2d(1, 1, 5)
    with pytest.raises(RuntimeError) as torch_error:
        torch.nn.Conv2d(1, 1, 5)(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError) as error:
        layer(np.zeros((1, 1, 4, 4), np.float32))
    assert str(error.value) == f"{layer!r}: {torch_error.value}"


@pytest.mark.parametrize(
    ("layer_kwargs", "x", "error", "message"),
    [
        ({}, np.zeros((1, 3, 8, 8), np.float32), ValueError,
         r"expected input with 2 channels, got 3 \(input shape \(1, 3, 8, 8\)\)"),
        ({}, np.zeros((3, 8, 8), np.float32), ValueError, "expected input with 2 channels, got 3"),
        ({}, np.zeros((8, 8), np.float32), ValueError, "expected 3D or 4D input, got 2D"),
        ({}, np.zeros((1, 2, 8, 8)), TypeError, "input dtype float64 does not match"),
        ({}, [[[0.0]]], TypeError, "expected a numpy.ndarray input, got list"),
        ({"padding": 4, "padding_mode": "reflect"}, np.zeros((1, 2, 4, 8), np.float32),
         ValueError, "reflect padding must be smaller than the input height"),
    ],
)
def test_bad_inputs_raise_naming_the_layer(layer_kwargs, x, error, message):
    layer = Conv2d(2, 3, 3, **layer_kwargs)
    with pytest.raises(error, match=r"^Conv2d\(2, 3, kernel_size=\(3, 3\).*\): " + message):
        layer(x)


def test_backward_before_forward_and_twice_raise():
    layer = Conv2d(1, 1, 3)
    with pytest.raises(RuntimeError, match=r"^Conv2d\(1, 1.*backward\(\) called before forward"):
        layer.backward(np.zeros((1, 1, 2, 2), np.float32))
    layer(np.zeros((1, 1, 4, 4), np.float32))
    layer.backward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(RuntimeError, match="twice for one forward"):
        layer.backward(np.zeros((1, 1, 2, 2), np.float32))


def test_bad_grad_output_raises_naming_the_layer():
    layer = Conv2d(1, 1, 3)
    layer(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"^Conv2d\(1, 1.*expected grad_output of shape \(1, 1, 2"):
        layer.backward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(TypeError, match=r"^Conv2d\(1, 1.*expected grad_output of dtype float32"):
        layer.backward(np.zeros((1, 1, 2, 2)))
