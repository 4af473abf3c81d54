"""``minicnn import-torch``: PyTorch state_dicts (safetensors or torch.save) into minicnn."""

from __future__ import annotations

import numpy as np
import pytest
import safetensors.torch
import torch

from minicnn.train.checkpoint import load_weights, read_metadata
from minicnn.train.loading import load_trained_model
from tests.helpers.twins import TorchLeNet5


def save_torch(model: torch.nn.Module, path, kind: str) -> None:
    if kind == "safetensors":
        safetensors.torch.save_file(model.state_dict(), path)
    else:
        torch.save(model.state_dict(), path)


@pytest.mark.parametrize(("kind", "suffix"), [("safetensors", ".safetensors"), ("pt", ".pt")])
@pytest.mark.parametrize(("model", "variant", "dtype"), [
    ("lenet5", "modern", torch.float32),
    ("lenet5-original", "original", torch.float32),
    ("lenet5", "modern", torch.float64),
])
def test_import_gives_the_same_logits_as_torch(cli, tmp_path, kind, suffix, model, variant,
                                               dtype):
    torch.manual_seed(0)
    torch_model = TorchLeNet5(variant=variant).to(dtype)
    source, destination = tmp_path / f"torch{suffix}", tmp_path / "imported.safetensors"
    save_torch(torch_model, source, kind)
    status, stdout, stderr = cli(["import-torch", str(source), str(destination), "--model",
                                  model])
    assert status == 0, stderr
    assert stdout.strip() == f"wrote {destination}: 10 tensors for {model}"
    assert read_metadata(destination)["minicnn.model"] == model

    ours, weights_path = load_trained_model(destination)  # the model name comes from the file
    assert weights_path == destination
    x = np.random.default_rng(0).standard_normal((6, 1, 28, 28))
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x).to(dtype)).numpy()
    numpy_dtype = np.float32 if dtype == torch.float32 else np.float64
    actual = ours(x.astype(numpy_dtype))
    assert actual.dtype == numpy_dtype
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)
    # And back: the imported file still loads into torch as it is.
    round_trip = TorchLeNet5(variant=variant).to(dtype)
    round_trip.load_state_dict(safetensors.torch.load_file(destination))
    for key, value in torch_model.state_dict().items():
        assert torch.equal(round_trip.state_dict()[key], value), key


def test_a_state_dict_of_another_network_is_refused_with_the_reasons(cli, tmp_path):
    other = torch.nn.Sequential(torch.nn.Linear(4, 3))
    source = tmp_path / "other.pt"
    torch.save(other.state_dict(), source)
    destination = tmp_path / "out.safetensors"
    status, stdout, stderr = cli(["import-torch", str(source), str(destination)])
    assert status == 1 and stdout == ""
    assert "does not fit minicnn's lenet5" in stderr
    assert "Missing key(s)" in stderr and "features.0.weight" in stderr
    assert "Unexpected key(s)" in stderr and '"0.weight"' in stderr
    assert not destination.exists()


def test_a_wrong_shape_is_refused(cli, tmp_path):
    torch_model = TorchLeNet5(num_classes=7)
    source = tmp_path / "seven.safetensors"
    safetensors.torch.save_file(torch_model.state_dict(), source)
    status, _, stderr = cli(["import-torch", str(source), str(tmp_path / "out.safetensors")])
    assert status == 1
    assert "size mismatch for classifier.5.weight" in stderr, stderr


def test_a_pickled_model_or_garbage_is_refused_without_running_it(cli, tmp_path):
    whole_model = tmp_path / "model.pt"
    torch.save(TorchLeNet5(), whole_model)  # the model object, not its state_dict
    status, _, stderr = cli(["import-torch", str(whole_model), str(tmp_path / "out.safetensors")])
    assert status == 1
    assert f"{whole_model}: not a state_dict torch.load can read safely" in stderr, stderr
    assert "save model.state_dict()" in stderr
    assert len(stderr.strip().splitlines()) == 1

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00\x01 nothing")
    status, _, stderr = cli(["import-torch", str(garbage), str(tmp_path / "out.safetensors")])
    assert status == 1 and str(garbage) in stderr, stderr

    status, _, stderr = cli(["import-torch", str(tmp_path / "absent.pt"),
                             str(tmp_path / "out.safetensors")])
    assert status == 1 and "absent.pt: no such file" in stderr, stderr


def test_imported_weights_evaluate_like_a_trained_run(cli, tmp_path, mnist_dir):
    torch.manual_seed(0)
    source = tmp_path / "torch.pt"
    torch.save(TorchLeNet5().state_dict(), source)
    destination = tmp_path / "imported.safetensors"
    assert cli(["import-torch", str(source), str(destination)])[0] == 0
    status, stdout, stderr = cli(["evaluate", str(destination), "--data-dir", str(mnist_dir),
                                  "--limit-test", "100"])
    assert status == 0, stderr
    assert stdout.splitlines()[-1].startswith("test accuracy: ")
    assert sorted(load_weights(destination)) == sorted(TorchLeNet5().state_dict())


def test_a_colour_network_for_cifar100_imports_with_its_dataset(cli, tmp_path):
    torch.manual_seed(0)
    twin = torch.nn.Sequential()  # SeedNet's layout: features.0 and classifier.1
    twin.features = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.MaxPool2d(2))
    twin.classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12 * 16 * 16, 100))
    source, destination = tmp_path / "seednet.pt", tmp_path / "imported.safetensors"
    torch.save(twin.state_dict(), source)
    status, _, stderr = cli(["import-torch", str(source), str(destination), "--model",
                             "seednet"])
    assert status == 1 and "does not fit minicnn's seednet" in stderr, "MNIST: 1 channel"
    status, _, stderr = cli(["import-torch", str(source), str(destination), "--model",
                             "seednet", "--dataset", "cifar100"])
    assert status == 0, stderr
    assert read_metadata(destination)["minicnn.dataset"] == "cifar100"
    ours, _ = load_trained_model(destination)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-5, atol=1e-5)
