"""Fused Sequential runs (Conv2d -> ReLU -> MaxPool2d(2), Linear -> ReLU) equal the unfused
layers (the NumPy reference) and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.kernels import conv as conv_kernels
from minicnn.kernels import use_kernels
from minicnn.nn.activation import ReLU
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.flatten import Flatten
from minicnn.nn.fused import ConvReLUMaxPool, LinearReLU
from minicnn.nn.linear import Linear
from minicnn.nn.pooling import MaxPool2d
from tests.helpers import assert_close
from tests.helpers.twins import TORCH_DTYPES

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def conv_blocks(draw):
    """A Conv2d -> ReLU -> MaxPool2d(2) configuration whose conv output is at least 2x2."""
    groups = draw(st.sampled_from([1, 1, 2]))
    conv = {
        "in_channels": groups * draw(st.integers(1, 2)),
        "out_channels": groups * draw(st.integers(1, 3)),
        "kernel_size": (draw(st.integers(1, 4)), draw(st.integers(1, 4))),
        "stride": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        "padding": (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
        "dilation": (draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        "groups": groups,
        "bias": draw(st.booleans()),
    }
    sizes = []
    for axis in range(2):
        extent = conv["dilation"][axis] * (conv["kernel_size"][axis] - 1) + 1
        # input size giving a conv output of 2 or more (odd sizes too: a row is dropped)
        smallest = extent - 2 * conv["padding"][axis] + conv["stride"][axis]
        sizes.append(draw(st.integers(max(1, smallest), max(1, smallest) + 6)))
    shape = (draw(st.integers(1, 3)), conv["in_channels"], *sizes)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    values = draw(st.sampled_from(["normal", "small_integers"]))  # integers: many ties
    return conv, shape, dtype, values, draw(st.integers(0, 2**16))


def draw_array(shape, dtype, values, rng):
    if values == "small_integers":
        return rng.integers(-2, 3, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def run(model, x, grad_output):
    """Output, input gradient and every parameter gradient of one forward/backward."""
    model.zero_grad()
    output = model(x)
    grad_input = model.backward(grad_output)
    return output, grad_input, [p.grad for p in model.parameters()]


def run_torch(model, x, grad_output):
    x_torch = torch.tensor(x, requires_grad=True)
    output = model(x_torch)
    output.backward(torch.tensor(grad_output))
    return (output.detach().numpy(), x_torch.grad.numpy(),
            [p.grad.numpy() for p in model.parameters()])


def assert_runs_equal(actual, expected, what):
    dtype = expected[0].dtype  # each run is in its input's dtype
    assert_close(actual[0], expected[0], dtype, f"{what}: output")
    assert_close(actual[1], expected[1], dtype, f"{what}: input gradient")
    for index, (got, want) in enumerate(zip(actual[2], expected[2])):
        assert_close(got, want, dtype, f"{what}: gradient of parameter {index}")


def fused_and_unfused(model, x, grad_output):
    with use_kernels(True):
        fused = run(model, x, grad_output)
        steps = list(model._steps)
    with use_kernels(False):
        unfused = run(model, x, grad_output)
    return fused, unfused, steps


@SETTINGS
@given(conv_blocks())
def test_conv_relu_maxpool_fused_equals_unfused_and_torch(case):
    conv, shape, dtype, values, seed = case
    rng = np.random.default_rng(seed)
    torch_model = torch.nn.Sequential(torch.nn.Conv2d(**conv, dtype=TORCH_DTYPES[dtype]),
                                      torch.nn.ReLU(), torch.nn.MaxPool2d(2))
    model = Sequential(Conv2d(**conv, dtype=dtype), ReLU(), MaxPool2d(2))
    model.load_state_dict(torch_model.state_dict())
    if values == "small_integers":  # integer weights too, so conv outputs tie exactly
        for param in model.parameters():
            param.data[...] = rng.integers(-1, 2, param.shape)
        torch_model.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    x = draw_array(shape, dtype, values, rng)
    with torch.no_grad():
        out_shape = tuple(torch_model(torch.tensor(x)).shape)
    grad_output = rng.standard_normal(out_shape).astype(dtype)
    fused, unfused, steps = fused_and_unfused(model, x, grad_output)
    assert isinstance(steps[0], ConvReLUMaxPool), "the block must run fused with kernels on"
    assert_runs_equal(fused, unfused, "fused vs unfused reference")
    assert_runs_equal(fused, run_torch(torch_model, x, grad_output), "fused vs torch")


@settings(max_examples=25, deadline=None)
@given(conv_blocks())
def test_fused_block_with_chunked_batch(case):
    conv, shape, dtype, values, seed = case
    rng = np.random.default_rng(seed)
    model = Sequential(Conv2d(**conv, dtype=dtype), ReLU(), MaxPool2d(2))
    x = draw_array(shape, dtype, values, rng)
    with use_kernels(False):
        grad_output = rng.standard_normal(model(x).shape).astype(dtype)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(conv_kernels, "COLUMN_BUDGET_BYTES", 1)
        fused, unfused, _ = fused_and_unfused(model, x, grad_output)
    assert_runs_equal(fused, unfused, "chunked fused vs unfused")


@SETTINGS
@given(batch=st.integers(1, 5), in_features=st.integers(1, 6), out_features=st.integers(1, 6),
       bias=st.booleans(), dtype=st.sampled_from([np.float64, np.float32]),
       seed=st.integers(0, 2**16))
def test_linear_relu_fused_equals_unfused_and_torch(batch, in_features, out_features, bias,
                                                     dtype, seed):
    rng = np.random.default_rng(seed)
    torch_model = torch.nn.Sequential(
        torch.nn.Linear(in_features, out_features, bias=bias, dtype=TORCH_DTYPES[dtype]),
        torch.nn.ReLU())
    model = Sequential(Linear(in_features, out_features, bias=bias, dtype=dtype), ReLU())
    model.load_state_dict(torch_model.state_dict())
    x = rng.standard_normal((batch, in_features)).astype(dtype)
    grad_output = rng.standard_normal((batch, out_features)).astype(dtype)
    fused, unfused, steps = fused_and_unfused(model, x, grad_output)
    assert isinstance(steps[0], LinearReLU), "Linear -> ReLU must run fused with kernels on"
    assert_runs_equal(fused, unfused, "fused vs unfused reference")
    assert_runs_equal(fused, run_torch(torch_model, x, grad_output), "fused vs torch")


def lenet(dtype=np.float32):
    return Sequential(
        Conv2d(1, 6, 5, padding=2, dtype=dtype), ReLU(), MaxPool2d(2),
        Conv2d(6, 16, 5, dtype=dtype), ReLU(), MaxPool2d(2), Flatten(),
        Linear(400, 120, dtype=dtype), ReLU(), Linear(120, 84, dtype=dtype), ReLU(),
        Linear(84, 10, dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lenet_fused_equals_unfused(dtype):
    rng = np.random.default_rng(3)
    model = lenet(dtype)
    x = np.maximum(rng.standard_normal((8, 1, 28, 28)), 0).astype(dtype)  # zeros: ties
    grad_output = rng.standard_normal((8, 10)).astype(dtype)
    fused, unfused, steps = fused_and_unfused(model, x, grad_output)
    names = [type(step).__name__ for step in steps]
    assert names == ["ConvReLUMaxPool", "ConvReLUMaxPool", "Flatten", "LinearReLU",
                     "LinearReLU", "Linear"], f"unexpected plan {names}"
    assert_runs_equal(fused, unfused, "LeNet-5 fused vs unfused")


@pytest.mark.parametrize("hook_on", [0, 1, 2])
def test_a_hook_on_any_child_turns_fusion_off_and_fires(hook_on):
    rng = np.random.default_rng(4)
    model = Sequential(Conv2d(1, 2, 3, dtype=np.float64), ReLU(), MaxPool2d(2))
    x = rng.standard_normal((2, 1, 8, 8))
    seen = {}
    model[hook_on].register_forward_hook(lambda m, args, out: seen.setdefault("forward", out))
    model[hook_on].register_full_backward_hook(
        lambda m, grad_in, grad_out: seen.setdefault("backward", grad_in))
    with use_kernels(True):
        output = model(x)
        assert model._steps == list(model), "a child with hooks must run unfused"
        grad_input = model.backward(np.ones_like(output))
    with use_kernels(False):
        expected_output = model[:hook_on + 1](x)
    assert_close(seen["forward"], expected_output, np.float64,
                 "the hook saw its layer's own output")
    assert seen["backward"][0] is not None, "the backward hook fired with a gradient"
    assert grad_input.shape == x.shape


def test_fused_step_honours_needs_input_grad_and_requires_grad():
    rng = np.random.default_rng(5)
    model = Sequential(Conv2d(1, 2, 3), ReLU(), MaxPool2d(2))
    model[0].needs_input_grad = False
    model[0].bias.requires_grad = False
    x = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
    with use_kernels(True):
        output = model(x)
        assert model.backward(np.ones_like(output)) is None, "the first layer's input gradient"
    assert model[0].bias.grad is None, "a parameter that does not require grad gets none"
    assert model[0].weight.grad is not None


@pytest.mark.parametrize("x, error, message", [
    (np.zeros((2, 3, 8, 8), np.float32), ValueError, "expected input with 1 channels"),
    (np.zeros((2, 1, 8, 8), np.float64), TypeError, "does not match the parameters' dtype"),
    (np.zeros((2, 1, 3, 3), np.float32), ValueError, "output size is too small"),
])
def test_inputs_the_kernel_cannot_take_raise_the_layers_errors(x, error, message):
    model = Sequential(Conv2d(1, 2, 3), ReLU(), MaxPool2d(2))
    with use_kernels(True), pytest.raises(error, match=message):
        model(x)


def test_unbatched_input_runs_unfused_and_correctly():
    rng = np.random.default_rng(6)
    model = Sequential(Conv2d(1, 2, 3, dtype=np.float64), ReLU(), MaxPool2d(2))
    x = rng.standard_normal((1, 8, 8))
    with use_kernels(True):
        fused = model(x)
    with use_kernels(False):
        np.testing.assert_allclose(fused, model(x), rtol=1e-12)
