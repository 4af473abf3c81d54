"""minicnn.onnx: exported models run in onnxruntime to minicnn's answers, pass onnx.checker,
take any batch size, and a layer that cannot be exported is named."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import nn
from minicnn.models import LeNet5, SeedNet
from minicnn.onnx import CONVERTERS, DEFAULT_OPSET, ExportError, export, register_converter

RTOL, ATOL = 1e-4, 1e-5  # float32: onnxruntime's kernels sum in other orders than minicnn's


def run_onnx(path, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": x})
    return output


def assert_runs_like_minicnn(model, x: np.ndarray, path, **options) -> onnx.ModelProto:
    was_training = model.training
    export(model, x[:1], path, **options)
    assert model.training == was_training, "export restores the model's mode"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    expected = model.eval()(x)
    actual = run_onnx(path, x)  # a larger batch than the example's: the batch axis is dynamic
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL,
                               err_msg=f"onnxruntime's output of {type(model).__name__}")
    return proto


def batchnorm_network():
    """conv + BatchNorm + ReLU (and BatchNorm1d), with running statistics that matter."""
    minicnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 6 * 6, 8),
                          nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    rng = np.random.default_rng(0)
    for layer in (model[1], model[6]):
        layer.running_mean[:] = rng.standard_normal(layer.num_features)
        layer.running_var[:] = rng.uniform(0.5, 2, layer.num_features)
        layer.weight.data[:] = rng.uniform(0.5, 2, layer.num_features)
        layer.bias.data[:] = rng.standard_normal(layer.num_features)
    return model


@pytest.mark.parametrize("name, model, shape", [
    ("lenet5", LeNet5, (1, 28, 28)),
    ("lenet5-original", lambda: LeNet5(variant="original"), (1, 28, 28)),
    ("seednet", SeedNet, (3, 32, 32)),
    ("batchnorm", batchnorm_network, (1, 12, 12)),
])
def test_models_run_in_onnxruntime_to_minicnns_logits(name, model, shape, tmp_path):
    model = model()
    x = np.random.default_rng(1).standard_normal((7, *shape)).astype(np.float32)
    proto = assert_runs_like_minicnn(model, x, tmp_path / f"{name}.onnx")
    assert [opset.version for opset in proto.opset_import] == [DEFAULT_OPSET]
    batch_axis = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_axis.dim_param == "batch", "the batch axis is symbolic"
    assert "Dropout" not in {node.op_type for node in proto.graph.node}


def test_the_opset_can_be_chosen(tmp_path):
    x = np.random.default_rng(2).standard_normal((2, 1, 28, 28)).astype(np.float32)
    proto = assert_runs_like_minicnn(LeNet5(), x, tmp_path / "lenet.onnx", opset=13)
    assert [opset.version for opset in proto.opset_import] == [13]
    with pytest.raises(ValueError, match="opset must be an int from 13"):
        export(LeNet5(), x, tmp_path / "old.onnx", opset=12)


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    in_channels, out_channels = 2 * draw(st.integers(1, 2)), 2 * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding_mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if draw(st.booleans()):
        padding, stride = "same", (1, 1)
    else:
        padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    layer = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation, groups,
                      bias=draw(st.booleans()), padding_mode=padding_mode)
    return layer, (in_channels, draw(st.integers(6, 9)), draw(st.integers(6, 9)))


@settings(max_examples=25)
@given(case=conv_cases())
def test_conv2d_configurations(case, tmp_path_factory):
    layer, shape = case
    x = np.random.default_rng(3).standard_normal((3, *shape)).astype(np.float32)
    assert_runs_like_minicnn(layer, x, tmp_path_factory.mktemp("conv") / "conv.onnx", opset=19)


@st.composite
def pool_cases(draw):
    kernel = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    padding = draw(st.integers(0, kernel // 2))
    ceil_mode = draw(st.booleans())
    if draw(st.booleans()):
        layer = nn.MaxPool2d(kernel, stride, padding, dilation=draw(st.integers(1, 2)),
                             ceil_mode=ceil_mode)
    else:
        layer = nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode,
                             count_include_pad=draw(st.booleans()))
    return layer, (2, draw(st.integers(5, 9)), draw(st.integers(5, 9)))


@settings(max_examples=40)
@given(case=pool_cases())
def test_pooling_configurations_including_ceil_mode(case, tmp_path_factory):
    layer, shape = case
    x = np.random.default_rng(4).standard_normal((2, *shape)).astype(np.float32)
    assert_runs_like_minicnn(layer, x, tmp_path_factory.mktemp("pool") / "pool.onnx")


@pytest.mark.parametrize("layer, shape", [
    (nn.ReLU(), (3, 4)), (nn.LeakyReLU(0.2), (3, 4)), (nn.Sigmoid(), (3, 4)),
    (nn.Tanh(), (3, 4)), (nn.Softmax(dim=1), (3, 4)), (nn.Softmax(dim=-1), (2, 3, 4)),
    (nn.LogSoftmax(dim=1), (3, 5)), (nn.Softmax(), (2, 3, 4)),
    (nn.Flatten(), (2, 3, 4, 5)), (nn.Flatten(2), (2, 3, 4, 5)), (nn.Flatten(0, 1), (2, 3, 4)),
    (nn.Flatten(1, 2), (2, 3, 4, 5)), (nn.Linear(5, 3), (2, 4, 5)),
    (nn.Linear(5, 3, bias=False), (4, 5)), (nn.Identity(), (2, 3)), (nn.Dropout(), (2, 3)),
])
@pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmax")
def test_other_layers(layer, shape, tmp_path):
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    assert_runs_like_minicnn(layer, x, tmp_path / "layer.onnx")


@pytest.mark.parametrize("layer, shape", [
    (nn.BatchNorm1d(3), (4, 3)), (nn.BatchNorm1d(3, affine=False), (4, 3, 5)),
    (nn.BatchNorm2d(3, bias=False), (2, 3, 4, 4)), (nn.SyncBatchNorm(3), (2, 3, 4, 4)),
])
def test_batchnorm_exports_with_its_running_statistics(layer, shape, tmp_path):
    layer.running_mean[:] = [0.5, -1.0, 2.0]
    layer.running_var[:] = [0.25, 4.0, 1.5]
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    assert_runs_like_minicnn(layer, x, tmp_path / "bn.onnx")


class Cube(nn.Module):
    def forward(self, x):
        return x**3

    def backward(self, grad_output):
        raise NotImplementedError


class AddsItself(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)

    def forward(self, x):
        return self.linear(x) + x


def test_a_layer_without_a_converter_is_named(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), Cube()))
    with pytest.raises(ExportError, match=r"cannot export 1\.1 Cube\(\): there is no ONNX "
                                          r"converter for Cube"):
        export(model, np.zeros((1, 3), np.float32), tmp_path / "cube.onnx")
    assert not (tmp_path / "cube.onnx").exists(), "nothing written"


def test_arithmetic_in_a_forward_method_is_refused_not_dropped(tmp_path):
    model = nn.Sequential(AddsItself(), nn.ReLU())
    with pytest.raises(ExportError, match=r"cannot export 1 ReLU\(\): its input was computed "
                                          "by the model's own code"):
        export(model, np.zeros((1, 3), np.float32), tmp_path / "adds.onnx")


@pytest.mark.parametrize("layer, message", [
    (nn.MaxPool2d(2, return_indices=True), "return_indices=True"),
    (nn.AvgPool2d(2, divisor_override=3), "divisor_override"),
    (nn.BatchNorm2d(2, track_running_stats=False), "without running statistics"),
])
def test_settings_onnx_cannot_express_are_named(layer, message, tmp_path):
    with pytest.raises(ExportError, match=message):
        export(nn.Sequential(layer), np.ones((1, 2, 4, 4), np.float32), tmp_path / "x.onnx")


def test_circular_padding_needs_opset_19(tmp_path):
    conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    with pytest.raises(ExportError, match="opset 19"):
        export(conv, np.ones((1, 1, 4, 4), np.float32), tmp_path / "c.onnx")


def test_a_new_layer_is_one_registered_function(tmp_path):
    @register_converter(Cube)
    def convert_cube(graph, call, inputs):
        squared = graph.node("Mul", [inputs[0], inputs[0]], call.name)
        return graph.node("Mul", [squared, inputs[0]], call.name)

    try:
        x = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)
        assert_runs_like_minicnn(nn.Sequential(nn.Linear(4, 4), Cube()), x,
                                 tmp_path / "cube.onnx")
    finally:
        del CONVERTERS[Cube]
