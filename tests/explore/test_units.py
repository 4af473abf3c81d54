"""Unit explanations, layer type by layer type, over configurations drawn by hypothesis: the
shown terms recompute the layer's own output, and the gradient terms (the windows a unit took
part in: col2im one pixel at a time) recompute the layer's own input gradient."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import nn
from minicnn.explore.errors import RequestError
from minicnn.explore.trace import run_trace
from minicnn.explore.units import explain_gradient, explain_unit, explainer_for

CLASSES = 3


def traced(layer: nn.Module, input_shape, dtype, seed: int, target: int = 1):
    """A trace of ``layer`` followed by a small classifier, on a random one-image batch."""
    minicnn.manual_seed(seed)
    rng = np.random.default_rng(seed)
    layer.to(dtype)
    probe = layer(np.zeros((1, *input_shape), dtype))
    model = nn.Sequential(layer, nn.Flatten(), nn.Linear(int(np.prod(probe.shape[1:])), CLASSES))
    model.to(dtype)
    batch = rng.standard_normal((1, *input_shape)).astype(dtype)
    return run_trace(model, batch, target)


def check_unit(trace, dtype, data) -> None:
    """A random output unit of layer "0" and a random entry of its input, both explained."""
    output = trace.calls["0"].output
    index = [data.draw(st.integers(0, size - 1), label="unit") for size in output.shape[1:]]
    answer = explain_unit(trace, "0", index)
    forward = answer["forward"]
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    if "total" in forward:
        scale = np.abs(np.array(forward.get("products", 0.0), np.float64)).sum() + abs(
            forward.get("bias") or 0) + abs(forward["total"])
        assert forward["total"] == pytest.approx(forward["value"], abs=rtol * scale + 1e-300), (
            f"{forward['kind']} {index}: the terms recompute the layer's output")
    if forward["kind"] == "max_pool2d":
        window = [v for row in forward["patch"][0] for v in row if v is not None]
        assert forward["value"] == max(window), "max pooling keeps the window's maximum"
        rows, cols = forward["reads"]["rows"], forward["reads"]["cols"]
        winner = forward["winner"]
        assert forward["patch"][0][rows.index(winner[0])][cols.index(winner[1])] == max(window)
    inputs = trace.calls["0"].input
    entry = [data.draw(st.integers(0, size - 1), label="input entry")
             for size in inputs.shape[1:]]
    backward = explain_gradient(trace, "input", entry)
    (part,) = backward["parts"]
    assert part["layer"] == "0"
    expected = float(trace.input_grad[(0, *entry)])
    assert backward["value"] == expected
    magnitude = _magnitude(part)
    assert part["sum"] == pytest.approx(expected, abs=rtol * magnitude + 1e-300), (
        f"{part['kind']} input {entry}: the terms recompute the layer's input gradient")


def _magnitude(part: dict) -> float:
    if part["kind"] == "conv2d":
        return sum(abs(v) for grid in part["offsets"] for row in grid for v in row if v)
    if part["kind"] in ("max_pool2d", "avg_pool2d"):
        return sum(abs(w["grad"]) for w in part["windows"])
    return abs(part["sum"])


@st.composite
def conv_layers(draw):
    groups = draw(st.integers(1, 2))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    size = (draw(st.integers(7, 9)), draw(st.integers(7, 9)))  # >= the dilated kernel
    if draw(st.booleans()):
        stride, padding = (1, 1), "same"
    else:
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    layer = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                      dilation=dilation, groups=groups, bias=draw(st.booleans()),
                      padding_mode=mode)
    return layer, (in_channels, *size)


@settings(max_examples=60)
@given(config=conv_layers(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16), data=st.data())
def test_conv2d_units_recompute_the_layer(config, dtype, seed, data):
    layer, shape = config
    check_unit(traced(layer, shape, dtype, seed), dtype, data)


@st.composite
def pool_layers(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    ceil_mode = draw(st.booleans())
    if draw(st.booleans()):
        dilation = draw(st.integers(1, 2))
        layer = nn.MaxPool2d(kernel, stride, padding, dilation=dilation, ceil_mode=ceil_mode)
    else:
        layer = nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode,
                             count_include_pad=draw(st.booleans()),
                             divisor_override=draw(st.sampled_from([None, 3])))
    return layer, (2, draw(st.integers(5, 8)), draw(st.integers(5, 8)))


@settings(max_examples=60)
@given(config=pool_layers(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16), data=st.data())
def test_pooling_units_recompute_the_layer(config, dtype, seed, data):
    layer, shape = config
    check_unit(traced(layer, shape, dtype, seed), dtype, data)


def test_max_pooling_ties_and_winners_follow_the_first_maximum():
    layer = nn.MaxPool2d(2, stride=1)
    model = nn.Sequential(layer, nn.Flatten(), nn.Linear(4, CLASSES))
    batch = np.zeros((1, 1, 3, 3), np.float32)  # every window a tie of zeros
    trace = run_trace(model, batch, 0)
    forward = explain_unit(trace, "0", [0, 1, 1])["forward"]
    assert forward["winner"] == [1, 1], "the first zero in row-major order wins the tie"
    part = explain_gradient(trace, "input", [0, 1, 1])["parts"][0]
    assert [(w["row"], w["col"], w["won"]) for w in part["windows"]] == [
        (0, 0, False), (0, 1, False), (1, 0, False), (1, 1, True)], (
        "input (1, 1) sat in four windows and won only the one it starts")


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Tanh(),
                                   nn.Dropout(0.5), nn.Flatten(2)],
                         ids=["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "Flatten"])
@settings(max_examples=15)
@given(seed=st.integers(0, 2**16), data=st.data())
def test_elementwise_and_reshape_units(layer, seed, data):
    trace = traced(layer, (2, 3, 4), np.float64, seed)
    check_unit(trace, np.float64, data)
    answer = explain_unit(trace, "0", [0] * (trace.calls["0"].output.ndim - 1))
    assert answer["forward"]["kind"] == explainer_for(layer).kind


@settings(max_examples=20)
@given(seed=st.integers(0, 2**16), data=st.data())
def test_batch_norm_in_eval_mode(seed, data):
    layer = nn.BatchNorm2d(3)
    rng = np.random.default_rng(seed)
    layer.running_mean[...] = rng.standard_normal(3)
    layer.running_var[...] = rng.uniform(0.5, 2.0, 3)
    layer.weight.data[...] = rng.standard_normal(3)
    check_unit(traced(layer, (3, 4, 4), np.float64, seed), np.float64, data)


def test_linear_unit_is_a_dot_product_plus_bias():
    minicnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, CLASSES)).double()
    trace = run_trace(model, np.random.default_rng(1).standard_normal((1, 6)), 2)
    forward = explain_unit(trace, "0", [3])["forward"]
    weights, inputs = np.array(forward["weights"]), np.array(forward["inputs"])
    np.testing.assert_allclose(forward["products"], weights * inputs, rtol=1e-15)
    assert forward["total"] == pytest.approx(forward["value"], rel=1e-12)
    logits = explain_gradient(trace, "2", [1])
    (loss,) = logits["parts"]
    assert loss["kind"] == "cross_entropy" and loss["is_target"] is False
    assert loss["sum"] == pytest.approx(logits["value"], rel=1e-12), "p - onehot"


def test_unknown_layers_and_indices_are_request_errors():
    trace = traced(nn.ReLU(), (1, 3, 3), np.float32, 0)
    with pytest.raises(RequestError, match=r"unknown layer 'features\.0'"):
        explain_unit(trace, "features.0", [0, 0, 0])
    with pytest.raises(RequestError, match="outside the output's shape"):
        explain_unit(trace, "0", [0, 3, 0])
    with pytest.raises(RequestError, match="needs 3 numbers"):
        explain_unit(trace, "0", [0, 0])
    with pytest.raises(RequestError, match="list of integers"):
        explain_unit(trace, "0", [0, 0.5, 0])
    with pytest.raises(RequestError, match="unknown layer ''"):
        explain_unit(trace, "", [0])


class Tripled(nn.Module):
    """A layer the explorer has no arithmetic view for: it must still show values."""

    def forward(self, x):
        return 3 * x

    def backward(self, grad_output):
        return 3 * grad_output


def test_a_layer_without_an_explainer_shows_its_values():
    trace = traced(Tripled(), (1, 2, 2), np.float64, 0)
    answer = explain_unit(trace, "0", [0, 1, 1])
    assert answer["forward"]["kind"] == "values"
    assert "no arithmetic view for Tripled" in answer["forward"]["note"]
    part = answer["backward"]["parts"][0]
    assert part["kind"] == "flatten", "its output feeds Flatten, which is explained"
    (inner,) = explain_gradient(trace, "input", [0, 1, 1])["parts"]
    assert inner["kind"] == "values" and inner["contribution"] == pytest.approx(
        3 * float(trace.calls["0"].grad_output[0, 0, 1, 1]))


def test_a_sequentials_unit_is_its_last_layers():
    trace = run_trace(nn.Sequential(nn.Sequential(nn.Tanh(), nn.ReLU()), nn.Flatten(),
                                    nn.Linear(4, CLASSES)).double(),
                      np.random.default_rng(3).standard_normal((1, 1, 2, 2)), 0)
    inner = explain_gradient(trace, "0", [0, 1, 1])
    assert inner == explain_gradient(trace, "0.1", [0, 1, 1]), (
        "the Sequential's output is its ReLU's: the same parts")
    assert inner["parts"][0]["kind"] == "flatten"
    assert explain_unit(trace, "0", [0, 1, 1])["forward"]["kind"] == "values"
