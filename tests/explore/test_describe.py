"""describe_model: any Module tree as the page draws it (layers, sequences, blocks)."""

from __future__ import annotations

import numpy as np

from minicnn import nn
from minicnn.explore.describe import describe_model
from minicnn.explore.trace import run_trace
from minicnn.models import LeNet5, SeedNet


def test_lenet5_is_two_sequences_of_layers():
    tree = describe_model(run_trace(LeNet5(), np.zeros((1, 1, 28, 28), np.float32)))
    assert (tree["kind"], tree["type"], tree["own_output"]) == ("block", "LeNet5", False)
    features, classifier = tree["children"]
    assert (features["kind"], classifier["kind"]) == ("sequence", "sequence")
    conv = features["children"][0]
    assert conv == {
        "name": "features.0", "label": "0", "type": "Conv2d",
        "repr": "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))",
        "kind": "layer", "ran": True, "calls": 1, "input_shape": [1, 28, 28],
        "output_shape": [6, 28, 28], "parameters": {"weight": [6, 1, 5, 5], "bias": [6]},
        "explains": "conv2d", "source": "input"}
    assert [node["output_shape"] for node in classifier["children"]] == [
        [400], [120], [120], [84], [84], [10]]
    assert classifier["children"][0]["source"] == "features.5"


def test_residual_blocks_draw_as_blocks_of_their_layers(residual_net):
    tree = describe_model(run_trace(residual_net, np.zeros((1, 1, 6, 6))))
    assert tree["kind"] == "sequence"
    residual, sum_block = tree["children"][1:3]
    assert residual["kind"] == "block" and residual["type"] == "Residual"
    assert [child["name"] for child in residual["children"]] == [
        "1.conv1", "1.relu1", "1.conv2", "1.relu2"], "in the order they ran"
    assert residual["own_output"] is False, "relu2 made the block's output"
    assert residual["children"][3]["source"] is None, "relu2 reads the sum made in code"
    assert sum_block["own_output"] is True, "conv(x) + x is made in the block's forward"
    assert sum_block["output_shape"] == [4, 6, 6]


class Unordered(nn.Module):
    """A parent whose children are registered in one order and run in another, and one of
    which never runs."""

    def __init__(self):
        super().__init__()
        self.second = nn.ReLU()
        self.first = nn.Tanh()
        self.unused = nn.Sigmoid()

    def forward(self, x):
        return self.second(self.first(x))

    def backward(self, grad_output):
        return self.first.backward(self.second.backward(grad_output))


def test_a_blocks_children_follow_the_forward_and_unused_ones_come_last():
    model = nn.Sequential(Unordered(), nn.Flatten(), nn.Linear(4, 2))
    tree = describe_model(run_trace(model, np.zeros((1, 1, 2, 2), np.float32)))
    block = tree["children"][0]
    assert [child["label"] for child in block["children"]] == ["first", "second", "unused"]
    unused = block["children"][2]
    assert unused["ran"] is False and unused["output_shape"] is None


def test_seednet_takes_colour_images():
    tree = describe_model(run_trace(SeedNet(), np.zeros((1, 3, 32, 32), np.float32)))
    conv = tree["children"][0]["children"][0]
    assert conv["input_shape"] == [3, 32, 32] and conv["output_shape"] == [12, 32, 32]
