"""run_trace: every module's input, output and gradients, found by hooks on any Module tree,
linked by identity; and the model left exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest

import minicnn
from minicnn import nn
from minicnn.explore.trace import is_ancestor, run_trace
from minicnn.explore.units import explain_gradient
from minicnn.models import LeNet5, SeedNet
from minicnn.nn.loss import CrossEntropyLoss


def test_the_toy_residual_network_is_right(residual_net):
    report = minicnn.gradcheck(residual_net, np.random.default_rng(0).standard_normal(
        (2, 1, 6, 6)))
    assert report.passed, f"the test's own residual blocks have correct backwards:\n{report}"


def test_trace_records_every_module_and_matches_a_plain_backward(residual_net):
    batch = np.random.default_rng(1).standard_normal((1, 1, 6, 6))
    trace = run_trace(residual_net, batch, target=2)
    assert list(trace.calls) == ["", "0", "1", "1.conv1", "1.relu1", "1.conv2", "1.relu2",
                                 "2", "2.conv", "3", "4"], "every module, in the order it started"
    loss_fn = CrossEntropyLoss()
    loss = loss_fn(residual_net(batch), np.array([2]))
    input_grad = residual_net.backward(loss_fn.backward())
    assert trace.loss == pytest.approx(float(loss), rel=1e-12)
    np.testing.assert_allclose(trace.input_grad, input_grad, rtol=1e-12)
    for name, parameter in residual_net.named_parameters():
        np.testing.assert_allclose(trace.parameter_grads[name], parameter.grad, rtol=1e-12,
                                   err_msg=name)


def test_trace_leaves_the_model_as_it_was():
    model = LeNet5()
    model.train()
    for parameter in model.parameters():
        parameter.grad = np.ones_like(parameter.data)
    run_trace(model, np.zeros((1, 1, 28, 28), np.float32), target=3)
    assert model.training, "the mode is put back"
    assert all(np.all(p.grad == 1) for p in model.parameters()), "the gradients are put back"
    assert not any(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                   for module in model.modules()), "no hook is left behind"


def test_sources_link_layers_by_identity(residual_net):
    trace = run_trace(residual_net, np.zeros((1, 1, 6, 6)), target=0)
    assert trace.source_of(trace.calls["0"]) == "input"
    assert trace.source_of(trace.calls["1"]) == "0"
    assert trace.source_of(trace.calls["1.conv1"]) == "0", "the block hands its input on"
    assert trace.source_of(trace.calls["1.relu2"]) is None, "its input is the sum made in code"
    assert trace.source_of(trace.calls["2"]) == "1.relu2", "a layer, not the block holding it"
    assert trace.source_of(trace.calls["3"]) == "2", "SumBlock's output is its own"
    assert [call.name for call in trace.consumers_of("0")] == ["1", "1.conv1"]
    assert is_ancestor("", "0") and is_ancestor("1", "1.conv1") and not is_ancestor("1", "10")


def test_identity_layers_pass_their_input_object_on():
    model = nn.Sequential(nn.Identity(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(4, 2)).double()
    trace = run_trace(model, np.ones((1, 1, 2, 2)), target=1)
    assert trace.calls["1"].output is trace.input, "eval-mode Dropout returns its input"
    assert [trace.source_of(trace.calls[name]) for name in "0123"] == ["input", "0", "1", "2"]
    (part,) = explain_gradient(trace, "input", [0, 0, 0])["parts"]
    assert part["layer"] == "0", "the input's only reader is the first layer, not all three"


def test_a_residual_forks_gradient_is_the_sum_of_both_paths(residual_net):
    trace = run_trace(residual_net, np.random.default_rng(2).standard_normal((1, 1, 6, 6)),
                      target=1)
    answer = explain_gradient(trace, "0", [1, 2, 3])
    (block,) = answer["parts"]
    assert block["kind"] == "block" and block["layer"] == "1"
    (main_path,) = block["parts"]
    assert main_path["kind"] == "conv2d" and main_path["layer"] == "1.conv1"
    shortcut = float(trace.calls["1.relu2"].grad_input[0, 1, 2, 3])
    assert block["other"] == pytest.approx(shortcut, rel=1e-12), "the shortcut's share"
    assert main_path["sum"] + block["other"] == pytest.approx(answer["value"], rel=1e-10), (
        "main path + shortcut = the gradient the backward computed")
    assert "difference" in answer and abs(answer["difference"]) < 1e-12


def test_seednet_traces_with_colour_input():
    trace = run_trace(SeedNet(), np.zeros((1, 3, 32, 32), np.float32), target=0)
    assert trace.calls["features.0"].output.shape == (1, 12, 32, 32)
    assert trace.source_of(trace.calls["classifier.0"]) == "features.2"
