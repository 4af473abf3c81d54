"""MaxPool2d and AvgPool2d against torch.nn: outputs, gradients, repr, attributes and errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.nn.pooling import AvgPool2d, MaxPool2d
from tests.helpers import ATOL, assert_close
from tests.helpers.strategies import pool_configs, split_shape

dtypes = st.sampled_from([np.float64, np.float32])


def run_torch_layer(torch_layer, x: np.ndarray, grad_output: np.ndarray):
    """Forward and autograd backward through ``torch_layer``; returns (output, indices, dx)."""
    x_torch = torch.tensor(x, requires_grad=True)
    result = torch_layer(x_torch)
    output, indices = result if isinstance(result, tuple) else (result, None)
    output.backward(torch.tensor(grad_output))
    indices = None if indices is None else indices.numpy()
    return output.detach().numpy(), indices, x_torch.grad.numpy()


def output_shape(torch_layer, shape) -> tuple[int, ...]:
    result = torch_layer(torch.zeros(shape))
    return tuple((result[0] if isinstance(result, tuple) else result).shape)


# ---------------------------------------------------------------------- parity with torch
@settings(max_examples=50, deadline=None)
@given(config=pool_configs(), unbatched=st.booleans(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_max_pool2d_matches_torch(config, unbatched, dtype, seed):
    shape, kwargs = split_shape(config)
    shape = shape[1:] if unbatched else shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    layer = MaxPool2d(**kwargs)
    torch_layer = torch.nn.MaxPool2d(**kwargs)
    grad_output = rng.standard_normal(output_shape(torch_layer, shape)).astype(dtype)
    expected, _, expected_grad = run_torch_layer(torch_layer, x, grad_output)

    output = layer(x)
    grad_input = layer.backward(grad_output)

    assert output.dtype == dtype and grad_input.dtype == dtype, "dtype must be kept"
    np.testing.assert_array_equal(output, expected, err_msg="max is exact: outputs must match")
    assert_close(grad_input, expected_grad, dtype, "input gradient vs torch", atol=ATOL[dtype])


@settings(max_examples=50, deadline=None)
@given(
    config=pool_configs(with_dilation=False),
    count_include_pad=st.booleans(),
    divisor_override=st.none() | st.integers(1, 7),
    unbatched=st.booleans(),
    dtype=dtypes,
    seed=st.integers(0, 2**16),
)
def test_avg_pool2d_matches_torch(config, count_include_pad, divisor_override, unbatched, dtype,
                                  seed):
    shape, kwargs = split_shape(config)
    shape = shape[1:] if unbatched else shape
    kwargs.update(count_include_pad=count_include_pad, divisor_override=divisor_override)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    layer = AvgPool2d(**kwargs)
    torch_layer = torch.nn.AvgPool2d(**kwargs)
    grad_output = rng.standard_normal(output_shape(torch_layer, shape)).astype(dtype)
    expected, _, expected_grad = run_torch_layer(torch_layer, x, grad_output)

    output = layer(x)
    grad_input = layer.backward(grad_output)

    assert output.dtype == dtype and grad_input.dtype == dtype, "dtype must be kept"
    assert_close(output, expected, dtype, "output vs torch", atol=ATOL[dtype])
    assert_close(grad_input, expected_grad, dtype, "input gradient vs torch", atol=ATOL[dtype])


@settings(max_examples=40, deadline=None)
@given(config=pool_configs(), seed=st.integers(0, 2**16))
def test_max_pool2d_return_indices_like_torch(config, seed):
    shape, kwargs = split_shape(config)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer = MaxPool2d(return_indices=True, **kwargs)
    torch_layer = torch.nn.MaxPool2d(return_indices=True, **kwargs)
    grad_output = rng.standard_normal(output_shape(torch_layer, shape))
    expected, expected_indices, expected_grad = run_torch_layer(torch_layer, x, grad_output)

    output, indices = layer(x)
    grad_input = layer.backward(grad_output)  # the gradient of the output only

    np.testing.assert_array_equal(output, expected)
    np.testing.assert_array_equal(indices, expected_indices, err_msg="indices differ from torch")
    assert indices.dtype == np.int64, "indices are int64, as torch's"
    assert_close(grad_input, expected_grad, np.float64, "input gradient vs torch",
                 atol=ATOL[np.float64])


# ---------------------------------------------------------------------- ties after ReLU
def read_idx_images(path, count: int) -> np.ndarray:
    """The first ``count`` images of an IDX3 file as float64 in [0, 1], shape (count, 28, 28)."""
    with gzip.open(path, "rb") as stream:
        header = np.frombuffer(stream.read(16), dtype=">i4")
        rows, cols = int(header[2]), int(header[3])
        pixels = np.frombuffer(stream.read(count * rows * cols), dtype=np.uint8)
    return pixels.reshape(count, rows, cols) / 255.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool2d_on_relu_mnist_features_gives_torch_gradient_exactly(mnist_dir, dtype):
    # A ReLU'd 3x3 edge filter over real digits: most 2x2 windows are all zeros, and torch
    # sends each such window's whole gradient to its first zero. The gradient must be the
    # same element for element, not merely close.
    images = read_idx_images(mnist_dir / "train-images-idx3-ubyte.gz", 8)
    edges = images[:, 1:-1, 2:] - images[:, 1:-1, :-2]
    features = np.maximum(np.stack([edges, -edges], axis=1), 0).astype(dtype)  # (8, 2, 26, 26)
    assert np.mean(features == 0) > 0.5, "the test needs many ties"
    grad_output = np.random.default_rng(0).standard_normal((8, 2, 13, 13)).astype(dtype)
    _, expected_indices, expected_grad = run_torch_layer(
        torch.nn.MaxPool2d(2, return_indices=True), features, grad_output
    )

    layer = MaxPool2d(2, return_indices=True)
    _, indices = layer(features)
    grad_input = layer.backward(grad_output)

    np.testing.assert_array_equal(indices, expected_indices, err_msg="ties broken unlike torch")
    np.testing.assert_array_equal(grad_input, expected_grad, err_msg="gradient differs")


# ---------------------------------------------------------------------- repr and attributes
MAX_POOL_ARGUMENTS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2},
    {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)},
    {"kernel_size": [2, 2]},
    {"kernel_size": 3, "stride": 1, "padding": 1, "ceil_mode": True, "return_indices": True},
    {"kernel_size": 2, "stride": None, "dilation": 2},
]
AVG_POOL_ARGUMENTS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 1), "ceil_mode": True},
    {"kernel_size": 2, "count_include_pad": False, "divisor_override": 3},
    {"kernel_size": [4, 2], "stride": None},
]


@pytest.mark.parametrize("kwargs", MAX_POOL_ARGUMENTS)
def test_max_pool2d_repr_and_attributes_like_torch(kwargs):
    layer, torch_layer = MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs)
    assert repr(layer) == repr(torch_layer)
    for name in ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"):
        assert getattr(layer, name) == getattr(torch_layer, name), f"{name} stored unlike torch"
        assert type(getattr(layer, name)) is type(getattr(torch_layer, name)), name


@pytest.mark.parametrize("kwargs", AVG_POOL_ARGUMENTS)
def test_avg_pool2d_repr_and_attributes_like_torch(kwargs):
    layer, torch_layer = AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs)
    assert repr(layer) == repr(torch_layer)
    for name in ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                 "divisor_override"):
        assert getattr(layer, name) == getattr(torch_layer, name), f"{name} stored unlike torch"
        assert type(getattr(layer, name)) is type(getattr(torch_layer, name)), name


def test_repr_examples():
    assert repr(MaxPool2d(2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"


def test_pooling_layers_have_no_parameters():
    for layer in (MaxPool2d(2), AvgPool2d(2)):
        assert list(layer.parameters()) == [] and layer.state_dict() == {}


# ---------------------------------------------------------------------- backward contract
@pytest.mark.parametrize("make_layer", [lambda: MaxPool2d(2), lambda: AvgPool2d(2)],
                         ids=["max", "avg"])
def test_backward_before_forward_and_twice_raise(make_layer):
    layer = make_layer()
    name = repr(layer)
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)") as raised:
        layer.backward(np.zeros((1, 1, 2, 2)))
    assert str(raised.value).startswith(name)
    layer(np.zeros((1, 1, 4, 4)))
    layer.backward(np.zeros((1, 1, 2, 2)))
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        layer.backward(np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("make_layer", [lambda: MaxPool2d(2), lambda: AvgPool2d(2)],
                         ids=["max", "avg"])
def test_backward_checks_grad_output_shape(make_layer):
    layer = make_layer()
    layer(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(1, 1, 2, 2\)") as raised:
        layer.backward(np.zeros((1, 1, 3, 3)))
    assert str(raised.value).startswith(repr(layer))


@pytest.mark.parametrize("make_layer", [lambda: MaxPool2d(3, stride=1, padding=1),
                                        lambda: AvgPool2d(3, stride=1, padding=1)],
                         ids=["max", "avg"])
def test_input_and_grad_output_are_not_modified(make_layer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    grad_output = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    x_before, grad_before = x.copy(), grad_output.copy()
    layer = make_layer()
    layer(x)
    layer.backward(grad_output)
    np.testing.assert_array_equal(x, x_before, err_msg="forward modified its input")
    np.testing.assert_array_equal(grad_output, grad_before, err_msg="backward modified grad")


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("make_layer", "error", "message"),
    [
        (lambda: MaxPool2d(3, padding=2), ValueError,
         "MaxPool2d(kernel_size=3, stride=3, padding=2, dilation=1, ceil_mode=False): pad "
         "should be at most half of effective kernel size, but got pad=2, kernel_size=3 and "
         "dilation=1"),
        (lambda: MaxPool2d(3, padding=2, dilation=2), ValueError,
         "MaxPool2d(kernel_size=3, stride=3, padding=2, dilation=2, ceil_mode=False): pad "
         "should be smaller than or equal to half of kernel size, but got padW = 2, padH = 2, "
         "kW = 3, kH = 3"),
        (lambda: MaxPool2d((3, 2), padding=(1, 2)), ValueError,
         "MaxPool2d(kernel_size=(3, 2), stride=(3, 2), padding=(1, 2), dilation=1, "
         "ceil_mode=False): pad should be at most half of effective kernel size, but got "
         "pad=2, kernel_size=2 and dilation=1"),
        (lambda: MaxPool2d(2, stride=0), ValueError, "MaxPool2d(kernel_size=2, stride=0"),
        (lambda: MaxPool2d(0), ValueError, "MaxPool2d(kernel_size=0"),
        (lambda: MaxPool2d(2, dilation=0), ValueError, "MaxPool2d(kernel_size=2"),
        (lambda: MaxPool2d(2, padding=-1), ValueError, "MaxPool2d(kernel_size=2"),
        (lambda: MaxPool2d("2"), TypeError, "MaxPool2d(kernel_size=2"),
        (lambda: AvgPool2d(3, padding=2), ValueError,
         "AvgPool2d(kernel_size=3, stride=3, padding=2): pad should be at most half of "
         "effective kernel size, but got pad=2, kernel_size=3 and dilation=1"),
        (lambda: AvgPool2d(2, divisor_override=0), ValueError,
         "AvgPool2d(kernel_size=2, stride=2, padding=0): divisor_override must not be zero"),
        (lambda: AvgPool2d(2, divisor_override=1.5), TypeError, "AvgPool2d(kernel_size=2"),
        (lambda: AvgPool2d((2, 3, 4)), TypeError, "AvgPool2d(kernel_size=(2, 3, 4)"),
    ],
)
def test_bad_arguments_raise_naming_the_layer(make_layer, error, message):
    with pytest.raises(error) as raised:
        make_layer()
    assert str(raised.value).startswith(message), f"got {raised.value}"


@pytest.mark.parametrize("layer", [MaxPool2d(2), AvgPool2d(2)], ids=["max", "avg"])
@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (np.zeros((4, 4)), ValueError, "expected 3D or 4D input, got 2D input of shape (4, 4)"),
        (np.zeros((1, 1, 1, 4, 4)), ValueError, "expected 3D or 4D input, got 5D"),
        (np.zeros((1, 1, 4, 4), np.int32), TypeError, "expected a float32 or float64 input"),
        (np.zeros((1, 1, 4, 4), np.float16), TypeError, "expected a float32 or float64 input"),
        ([[[0.0]]], TypeError, "expected a numpy.ndarray input, got list"),
        (np.zeros((1, 1, 1, 5)), ValueError,
         "given input of size 1x5, the calculated output size is 0x2: output size is too small"),
    ],
)
def test_bad_inputs_raise_naming_the_layer(layer, x, error, message):
    with pytest.raises(error) as raised:
        layer(x)
    assert str(raised.value).startswith(f"{layer!r}: {message}"), f"got {raised.value}"
