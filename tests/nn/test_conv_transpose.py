"""ConvTranspose2d against torch.nn.ConvTranspose2d: outputs, every gradient, output_size, repr,
state_dict, init, finite differences and its errors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.nn.conv_transpose import ConvTranspose2d
from tests.helpers import assert_close

SETTINGS = settings(max_examples=40, deadline=None)
TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


# ---------------------------------------------------------------------------- strategies
def _int_or_pair(low, high):
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high),
                                                       st.integers(low, high)))


def _as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


@st.composite
def layer_configs(draw):
    """Constructor arguments (every option), an input shape they accept, and maybe an
    ``output_size`` for the forward."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel_size = draw(_int_or_pair(1, 4))
    stride = draw(_int_or_pair(1, 3))
    dilation = draw(_int_or_pair(1, 3))
    padding = draw(_int_or_pair(0, 2))
    strides, dilations = _as_pair(stride), _as_pair(dilation)
    # Anything below max(stride, dilation), so output_padding >= stride (with a larger
    # dilation) is drawn too.
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1))
                           for s, d in zip(strides, dilations))
    if output_padding[0] == output_padding[1] and draw(st.booleans()):
        output_padding = output_padding[0]
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  bias=draw(st.booleans()), dilation=dilation)
    sizes = []
    for k, s, p, d in zip(_as_pair(kernel_size), strides, _as_pair(padding), dilations):
        smallest = 1
        while (smallest - 1) * s - 2 * p + d * (k - 1) + 1 <= 0:
            # The padding must not crop the whole output away, with any output_padding.
            smallest += 1
        sizes.append(draw(st.integers(smallest, smallest + 3)))
    batch = draw(st.sampled_from([None, 1, 2, 3]))  # None: unbatched (C, H, W)
    shape = ((in_channels, *sizes) if batch is None else (batch, in_channels, *sizes))
    output_size = None
    if draw(st.booleans()):  # ask for a size instead: any of the `stride` valid ones per axis
        output_size = [
            (h - 1) * s - 2 * p + d * (k - 1) + 1 + draw(st.integers(0, s - 1))
            for h, k, s, p, d in zip(sizes, _as_pair(kernel_size), strides, _as_pair(padding),
                                     dilations)
        ]
        if draw(st.booleans()):  # the whole output shape is accepted too
            output_size = [*shape[:-3], out_channels, *output_size]
    return (in_channels, out_channels, kernel_size), kwargs, shape, output_size


def make_pair(args, kwargs, dtype):
    """A torch ConvTranspose2d and a minicnn one holding the same parameters."""
    torch_layer = torch.nn.ConvTranspose2d(*args, **kwargs, dtype=TORCH_DTYPE[np.dtype(dtype)])
    layer = ConvTranspose2d(*args, **kwargs, dtype=dtype)
    layer.load_state_dict(torch_layer.state_dict())
    return layer, torch_layer


# ---------------------------------------------------------------------------- parity with torch
@SETTINGS
@given(layer_configs(), st.sampled_from([np.float64, np.float32]), st.integers(0, 2**32 - 1))
def test_forward_and_backward_match_torch(config, dtype, seed):
    args, kwargs, shape, output_size = config
    rng = np.random.default_rng(seed)
    layer, torch_layer = make_pair(args, kwargs, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = torch_layer(x_t, output_size=output_size)
    x_copy = x.copy()
    note = f"{args} {kwargs} input {shape} output_size={output_size}"

    out = layer(x, output_size=output_size)
    assert_close(out, out_t, dtype, f"output {note}")
    grad_output = rng.standard_normal(out.shape).astype(dtype)
    grad_copy = grad_output.copy()
    out_t.backward(torch.tensor(grad_output))
    grad_input = layer.backward(grad_output)

    assert_close(grad_input, x_t.grad, dtype, f"grad_input {note}")
    assert_close(layer.weight.grad, torch_layer.weight.grad, dtype, f"weight.grad {note}")
    if kwargs["bias"]:
        assert_close(layer.bias.grad, torch_layer.bias.grad, dtype, f"bias.grad {note}")
    np.testing.assert_array_equal(x, x_copy, err_msg="forward/backward modified the input")
    np.testing.assert_array_equal(grad_output, grad_copy, err_msg="backward modified grad_output")


@pytest.mark.parametrize("training", [True, False])
def test_train_and_eval_modes_agree_with_torch(training):
    layer, torch_layer = make_pair((2, 4, 3), dict(stride=2, padding=1, output_padding=1),
                                   np.float64)
    layer.train(training)
    torch_layer.train(training)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 5))
    assert_close(layer(x), torch_layer(torch.tensor(x)), np.float64, "output")


@settings(max_examples=60, deadline=None)
@given(layer_configs())
def test_repr_and_state_dict_keys_match_torch(config):
    args, kwargs, _, _ = config
    layer, torch_layer = ConvTranspose2d(*args, **kwargs), torch.nn.ConvTranspose2d(*args, **kwargs)
    assert repr(layer) == repr(torch_layer)
    assert list(layer.state_dict()) == list(torch_layer.state_dict())
    for name, param in torch_layer.named_parameters():
        assert getattr(layer, name).shape == tuple(param.shape), f"{name} shape"


@pytest.mark.parametrize("kwargs", [{}, {"padding": (1, 0)}, {"output_padding": 1, "stride": 2},
                                    {"dilation": (2, 1)}, {"groups": 2}, {"bias": False},
                                    {"padding_mode": "zeros"}])
def test_repr_by_hand(kwargs):
    assert repr(ConvTranspose2d(2, 6, 3, **kwargs)) == repr(torch.nn.ConvTranspose2d(2, 6, 3,
                                                                                      **kwargs))


def test_repr_example():
    assert repr(ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)) == (
        "ConvTranspose2d(16, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "output_padding=(1, 1))"
    )


def test_state_dict_loads_both_ways():
    kwargs = dict(stride=2, padding=1, groups=2)
    minicnn.manual_seed(4)
    layer = ConvTranspose2d(4, 6, 3, **kwargs, dtype=np.float64)
    torch_layer = torch.nn.ConvTranspose2d(4, 6, 3, **kwargs, dtype=torch.float64)
    # minicnn -> torch
    torch_layer.load_state_dict({key: torch.from_numpy(value.copy())
                                 for key, value in layer.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 5))
    assert_close(layer(x), torch_layer(torch.tensor(x)), np.float64, "after loading into torch")
    # torch -> minicnn, into a layer with other weights
    other = ConvTranspose2d(4, 6, 3, **kwargs, dtype=np.float64)
    assert repr(other.load_state_dict(torch_layer.state_dict())) == (
        "<All keys matched successfully>")
    assert_close(other(x), torch_layer(torch.tensor(x)), np.float64, "after loading from torch")


# ---------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize(("args", "kwargs", "shape", "output_size"), [
    ((3, 4, 3), {}, (2, 3, 4, 5), None),
    ((2, 4, (3, 2)), dict(stride=2, padding=1, output_padding=1), (1, 2, 3, 4), None),
    ((4, 2, 2), dict(stride=(2, 3), dilation=2, groups=2, bias=False), (2, 4, 3, 3), None),
    ((2, 3, 3), dict(stride=1, dilation=3, output_padding=2), (2, 3, 3), None),
    ((2, 2, 3), dict(stride=3, padding=1), (1, 2, 3, 3), (8, 9)),
])
def test_gradients_agree_with_finite_differences(args, kwargs, shape, output_size):
    layer = ConvTranspose2d(*args, **kwargs)
    x = np.random.default_rng(0).standard_normal(shape)
    inputs = (x,) if output_size is None else (x, output_size)
    report = minicnn.gradcheck(layer, *inputs)
    assert report.passed, str(report)
    checked = {check.name for check in report.tensors}
    assert checked == {"input", "weight"} | ({"bias"} if layer.bias is not None else set())


# ---------------------------------------------------------------------------- output_size
@pytest.mark.parametrize(("input_shape", "output_size"), [
    ((1, 1, 3, 3), [9, 8]),
    ((1, 1, 3, 3), [6, 7]),
    ((1, 1, 3, 3), [5]),
    ((1, 1, 3, 3), [1, 1, 1, 8, 8]),
    ((1, 3, 3), [1, 1, 8, 8]),
])
def test_output_size_out_of_range_raises_torchs_sentence_naming_the_layer(input_shape,
                                                                          output_size):
    layer = ConvTranspose2d(1, 1, 3, stride=2)
    with pytest.raises(ValueError) as torch_error:
        torch.nn.ConvTranspose2d(1, 1, 3, stride=2)(torch.ones(input_shape), output_size)
    # torch names the shape as torch.Size([3, 3]) and the layer as "ConvTranspose2D".
    sentence = str(torch_error.value).replace("torch.Size([3, 3])", "(3, 3)")
    sentence = sentence.replace("ConvTranspose2D: ", "")
    with pytest.raises(ValueError) as error:
        layer(np.ones(input_shape, np.float32), output_size=output_size)
    assert str(error.value) == f"{layer!r}: {sentence}"


def test_output_size_overrides_output_padding_as_in_torch():
    layer, torch_layer = make_pair((1, 2, 3), dict(stride=2, output_padding=1), np.float64)
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 3))
    out = layer(x, output_size=(7, 8))
    assert out.shape == (1, 2, 7, 8)
    assert_close(out, torch_layer(torch.tensor(x), output_size=(7, 8)), np.float64, "output")
    assert layer(x).shape == (1, 2, 8, 8), "without output_size the layer's output_padding holds"


def test_output_size_accepts_a_torch_size_and_rejects_other_types():
    layer = ConvTranspose2d(1, 1, 3, stride=2)
    x = np.ones((1, 1, 3, 3), np.float32)
    assert layer(x, output_size=torch.Size([8, 7])).shape == (1, 1, 8, 7)
    with pytest.raises(TypeError, match=r"^ConvTranspose2d\(1, 1.*: output_size must be a tuple "
                                        r"or list of ints, got 8"):
        layer(x, output_size=8)


# ---------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize(("args", "kwargs"), [((3, 64, 3), {}), ((8, 32, (5, 3)), {"groups": 4})])
def test_default_init_is_uniform_within_one_over_sqrt_fan_in(args, kwargs):
    minicnn.manual_seed(0)
    layer = ConvTranspose2d(*args, **kwargs)
    # PyTorch reads the fan-in from the weight's axis 1: out_channels/groups for this layer.
    torch_fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(
        torch.nn.ConvTranspose2d(*args, **kwargs).weight)
    fan_in = layer.weight.shape[1] * layer.weight.shape[2] * layer.weight.shape[3]
    assert fan_in == torch_fan_in
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        values = getattr(layer, name).data
        assert values.dtype == np.float32, f"{name} must default to float32"
        assert np.abs(values).max() <= bound, f"{name} escapes U(-{bound}, {bound})"
    weights = layer.weight.data
    assert weights.min() < -0.8 * bound and weights.max() > 0.8 * bound
    assert abs(weights.std() - bound / math.sqrt(3)) < 0.15 * bound / math.sqrt(3)


def test_init_follows_manual_seed_and_generator():
    minicnn.manual_seed(123)
    first = ConvTranspose2d(2, 4, 3).state_dict()
    minicnn.manual_seed(123)
    second = ConvTranspose2d(2, 4, 3).state_dict()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=f"{key} not reproducible")
    layer, again = ConvTranspose2d(2, 4, 3), ConvTranspose2d(2, 4, 3)
    layer.reset_parameters(generator=np.random.default_rng(7))
    again.reset_parameters(generator=np.random.default_rng(7))
    np.testing.assert_array_equal(layer.weight.data, again.weight.data)


# ---------------------------------------------------------------------------- dtype and state
def test_float32_stays_float32_and_double_converts():
    layer = ConvTranspose2d(2, 3, 3, stride=2)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    out = layer(x)
    grad = layer.backward(np.ones_like(out))
    for name, array in (("output", out), ("grad_input", grad), ("weight.grad", layer.weight.grad),
                        ("bias.grad", layer.bias.grad)):
        assert array.dtype == np.float32, f"{name} came out as {array.dtype}"
    layer.double()
    assert layer(x.astype(np.float64)).dtype == np.float64


def test_gradients_accumulate_and_frozen_parameters_get_none():
    rng = np.random.default_rng(3)
    layer = ConvTranspose2d(2, 3, 3, stride=2, dtype=np.float64)
    x, g = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 3, 7, 7))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    assert_close(layer.weight.grad, 2 * once, np.float64, "weight.grad must accumulate")
    layer.zero_grad()
    layer.weight.requires_grad = False
    layer(x)
    assert layer.backward(g).shape == x.shape
    assert layer.weight.grad is None and layer.bias.grad is not None


def test_empty_batch_gives_an_empty_output_as_torch():
    layer, torch_layer = make_pair((2, 3, 3), dict(stride=2), np.float64)
    out = layer(np.zeros((0, 2, 4, 4)))
    assert out.shape == tuple(torch_layer(torch.zeros(0, 2, 4, 4)).shape) == (0, 3, 9, 9)
    assert layer.backward(np.zeros(out.shape)).shape == (0, 2, 4, 4)
    np.testing.assert_array_equal(layer.weight.grad, 0)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((4, 2, 3), {"groups": 3}, ValueError, "in_channels must be divisible by groups"),
        ((3, 4, 3), {"groups": 3}, ValueError, "out_channels must be divisible by groups"),
        ((2, 2, 3), {"groups": 0}, ValueError, "groups must be a positive integer"),
        ((1, 1, 3), {"output_padding": 1}, ValueError,
         r"output padding must be smaller than either stride or dilation, but got "
         r"output_padding=\(1, 1\), stride=\(1, 1\), dilation=\(1, 1\)"),
        ((1, 1, 3), {"output_padding": (0, 2), "stride": 2}, ValueError,
         "output padding must be smaller than either stride or dilation"),
        ((1, 1, 3), {"output_padding": -1}, ValueError, "output_padding should be non-negative"),
        ((1, 1, 3), {"padding": -1}, ValueError, "padding should be non-negative"),
        ((1, 1, 3), {"padding": "same"}, TypeError, "padding must be an int or a pair of ints"),
        ((1, 1, 3), {"padding_mode": "reflect"}, ValueError,
         'Only "zeros" padding mode is supported for ConvTranspose2d'),
        ((1, 1, 3), {"stride": 0}, ValueError, "stride should be greater than zero"),
        ((1, 1, 3), {"dilation": (1, 0)}, ValueError, "dilation should be greater than zero"),
        ((1, 1, 0), {}, ValueError, "kernel_size should be greater than zero"),
        ((0, 1, 3), {}, ValueError, "in_channels must be a positive integer"),
        ((1, 1.5, 3), {}, TypeError, "out_channels must be an int"),
        ((1, 1, 3), {"dtype": np.int32}, TypeError, "dtype must be float32 or float64"),
    ],
)
def test_bad_constructor_arguments_raise_naming_the_layer(args, kwargs, error, message):
    with pytest.raises(error, match=f"^ConvTranspose2d: .*{message}"):
        ConvTranspose2d(*args, **kwargs)


def test_constructor_messages_match_torch_where_torch_checks_at_construction():
    for kwargs in ({"groups": 3}, {"padding_mode": "reflect"}):
        with pytest.raises(ValueError) as torch_error:
            torch.nn.ConvTranspose2d(4, 2, 3, **kwargs)
        with pytest.raises(ValueError, match=f"^ConvTranspose2d: {torch_error.value}"):
            ConvTranspose2d(4, 2, 3, **kwargs)


@pytest.mark.parametrize(("x", "error", "message"), [
    (np.zeros((1, 3, 4, 4), np.float32), ValueError,
     r"expected input with 2 channels, got 3 \(input shape \(1, 3, 4, 4\)\)"),
    (np.zeros((3, 4, 4), np.float32), ValueError, "expected input with 2 channels, got 3"),
    (np.zeros((4, 4), np.float32), ValueError, "expected 3D or 4D input, got 2D"),
    (np.zeros((1, 1, 2, 4, 4), np.float32), ValueError, "expected 3D or 4D input, got 5D"),
    (np.zeros((1, 2, 4, 4)), TypeError, "input dtype float64 does not match"),
    (np.zeros((1, 2, 4, 4), np.int64), TypeError, "expected a float32 or float64 input"),
    ([[[0.0]]], TypeError, "expected a numpy.ndarray input, got list"),
    (np.zeros((1, 2, 0, 4), np.float32), ValueError,
     "expected an input whose dimensions are all non-zero"),
])
def test_bad_inputs_raise_naming_the_layer(x, error, message):
    layer = ConvTranspose2d(2, 3, 3)
    label = r"^ConvTranspose2d\(2, 3, kernel_size=\(3, 3\).*\): "
    with pytest.raises(error, match=label + message):
        layer(x)


def test_output_too_small_raises_torchs_sentence():
    layer = ConvTranspose2d(1, 1, 3, padding=4)
    with pytest.raises(RuntimeError) as torch_error:
        torch.nn.ConvTranspose2d(1, 1, 3, padding=4)(torch.ones(1, 1, 3, 3))
    with pytest.raises(ValueError) as error:
        layer(np.ones((1, 1, 3, 3), np.float32))
    assert str(error.value) == f"{layer!r}: {torch_error.value}"


def test_backward_before_forward_twice_and_bad_grad_output_raise():
    layer = ConvTranspose2d(1, 1, 3)
    label = re.escape(repr(layer))
    with pytest.raises(RuntimeError, match=rf"^{label}: backward\(\) called before forward"):
        layer.backward(np.zeros((1, 1, 5, 5), np.float32))
    layer(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=rf"^{label}: expected grad_output of shape "
                                         r"\(1, 1, 5, 5\)"):
        layer.backward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(TypeError, match=rf"^{label}: expected grad_output of dtype float32"):
        layer.backward(np.zeros((1, 1, 5, 5)))
    layer.backward(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(RuntimeError, match="twice for one forward"):
        layer.backward(np.zeros((1, 1, 5, 5), np.float32))
