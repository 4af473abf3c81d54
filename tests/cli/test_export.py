"""``minicnn export RUN_DIR model.onnx``: the trained LeNet-5 runs in onnxruntime to the same
logits and the same answers on 1,000 MNIST test images; a CIFAR run takes colour images."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime

from minicnn.models import LeNet5
from minicnn.train.checkpoint import save_weights
from minicnn.train.datasets import load_split
from minicnn.train.loading import load_trained_model


def test_exported_run_gives_minicnns_logits_on_1000_test_images(cli, trained_run, mnist_dir,
                                                                 tmp_path):
    output = tmp_path / "lenet5.onnx"
    status, stdout, stderr = cli(["export", str(trained_run.path), str(output)])
    assert status == 0, stderr
    assert f"wrote {output}: ONNX opset 17" in stdout
    onnx.checker.check_model(onnx.load(str(output)), full_check=True)
    images = load_split("mnist", str(mnist_dir), False, np.float32, 1000).get_batch(
        np.arange(1000))[0]
    model, _ = load_trained_model(trained_run.path)
    expected = model(images)
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"input": images})
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5,
                               err_msg="logits of onnxruntime and minicnn")
    agree = int(np.count_nonzero(actual.argmax(axis=1) == expected.argmax(axis=1)))
    assert agree == 1000, f"expected the same answer on all 1,000 images, got {agree}"


def test_a_cifar_run_exports_taking_colour_images(cli, cifar_run, tmp_path):
    """The input shape comes from the dataset the weights record: 3x32x32 for CIFAR-10."""
    output = tmp_path / "seednet.onnx"
    status, stdout, stderr = cli(["export", str(cifar_run.path), str(output)])
    assert status == 0, stderr
    assert "input 'input' (batch, 3, 32, 32) float32" in stdout, stdout
    images = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)
    model, _ = load_trained_model(cifar_run.path)
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"input": images})
    np.testing.assert_allclose(actual, model(images), rtol=1e-4, atol=1e-5,
                               err_msg="CIFAR-10 SeedNet: logits of onnxruntime and minicnn")


def test_a_float64_checkpoint_exports_as_float32_unless_asked(cli, tmp_path):
    weights = tmp_path / "w.safetensors"
    save_weights(weights, LeNet5().double().state_dict(), {"minicnn.model": "lenet5"})
    status, _, stderr = cli(["export", str(weights), str(tmp_path / "a.onnx")])
    assert status == 0, stderr
    graph_input = onnx.load(str(tmp_path / "a.onnx")).graph.input[0]
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    status, _, stderr = cli(["export", str(weights), str(tmp_path / "b.onnx"), "--dtype",
                             "float64"])
    assert status == 0, stderr
    graph_input = onnx.load(str(tmp_path / "b.onnx")).graph.input[0]
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_errors_are_one_line(cli, tmp_path):
    status, _, stderr = cli(["export", str(tmp_path / "missing"), str(tmp_path / "x.onnx")])
    assert status == 1 and "no such checkpoint file or run directory" in stderr
    status, _, stderr = cli(["export", str(tmp_path), str(tmp_path / "x.onnx"),
                             "--input-shape", "1,x"])
    assert status == 2 and "C,H,W" in stderr
