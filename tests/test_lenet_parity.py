"""The "done" criterion of issue 3: a minicnn LeNet-5 is interchangeable with a torch.nn one.

Same state_dict keys, same repr; weights moved either way (torch -> minicnn with
``load_state_dict``, minicnn -> torch with ``torch.from_numpy``) give the same logits, the same
loss and the same gradients (input and every parameter, after CrossEntropyLoss backward):
float64 to 1e-10, float32 to 1e-5, relative to each tensor's largest entry.

The batch is real MNIST. Its constant background makes many max-pooling windows hold equal
positive values (ties), where the gradient must go to the same element as in PyTorch (the
first maximum); a test below checks that the batch really has such ties.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minicnn.nn
from minicnn import random as minicnn_random
from minicnn.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from minicnn.models import LeNet5
from tests.helpers import assert_close
from tests.helpers.twins import TORCH_DTYPES, TorchLeNet5, minicnn_step, torch_step

BATCH_SIZE = 16


def lenet5_batch_norm(nn):
    """Conv-BN-ReLU-Pool twice, then a classifier: BatchNorm inside a real network, built
    from ``nn`` = ``minicnn.nn`` or ``torch.nn``."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 84), nn.ReLU(), nn.Linear(84, 10),
    )


# (minicnn constructor, torch constructor) of each network compared here.
NETWORKS = {
    "lenet5": (LeNet5, TorchLeNet5),
    "lenet5-batch-norm": (lambda: lenet5_batch_norm(minicnn.nn),
                          lambda: lenet5_batch_norm(torch.nn)),
}


@pytest.fixture(scope="module")
def mnist_batch(mnist_dir):
    """The first test images, normalised as for training, ``(16, 1, 28, 28)``, and labels."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz", expected_magic=IMAGES_MAGIC)
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz", expected_magic=LABELS_MAGIC)
    x = (images[:BATCH_SIZE, None].astype(np.float64) / 255 - 0.1307) / 0.3081
    return x, labels[:BATCH_SIZE].astype(np.int64)


def assert_same_results(mc_results: dict, torch_results: dict, dtype) -> None:
    """Every result within the dtype's tolerance, relative to each tensor's largest entry."""
    assert list(mc_results) == list(torch_results)
    for name, expected in torch_results.items():
        assert_close(mc_results[name], expected, dtype, name, relative_to="tensor")


def torch_to_minicnn(network: str, dtype, seed: int = 0):
    build_ours, build_theirs = NETWORKS[network]
    torch.manual_seed(seed)
    torch_model = build_theirs().to(TORCH_DTYPES[dtype])
    mc_model = build_ours().to(dtype)
    mc_model.load_state_dict(torch_model.state_dict())
    return mc_model, torch_model


def minicnn_to_torch(network: str, dtype, seed: int = 0):
    build_ours, build_theirs = NETWORKS[network]
    minicnn_random.manual_seed(seed)
    mc_model = build_ours().to(dtype)
    torch_model = build_theirs().to(TORCH_DTYPES[dtype])
    torch_model.load_state_dict(
        {key: torch.from_numpy(np.array(value)) for key, value in mc_model.state_dict().items()})
    return mc_model, torch_model


@pytest.mark.parametrize("network", NETWORKS)
def test_state_dict_keys_shapes_and_repr_match(network):
    build_ours, build_theirs = NETWORKS[network]
    mc_model, torch_model = build_ours(), build_theirs()
    mc_state, torch_state = mc_model.state_dict(), torch_model.state_dict()
    assert list(mc_state) == list(torch_state)
    for key, value in torch_state.items():
        assert mc_state[key].shape == tuple(value.shape), key
    assert repr(mc_model) == repr(torch_model)


def test_the_batch_has_max_pool_ties(mnist_batch):
    # Ties between positive values are the ones that matter: the gradient reaches exactly one
    # element of the window, and which one must agree with PyTorch (ties at 0 are killed by
    # the ReLU's backward anyway).
    torch.manual_seed(0)
    features = TorchLeNet5().features.double()
    x = torch.from_numpy(mnist_batch[0])
    for relu_index in (1, 4):
        with torch.no_grad():
            activations = features[: relu_index + 1](x)
        windows = torch.nn.functional.unfold(
            activations.flatten(0, 1)[:, None], kernel_size=2, stride=2)
        top2 = windows.topk(2, dim=1).values
        tied = (top2[:, 0] == top2[:, 1]) & (top2[:, 0] > 0)
        assert int(tied.sum()) > 0, f"no positive ties before pooling layer {relu_index + 1}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("move_weights", [torch_to_minicnn, minicnn_to_torch],
                         ids=["torch-to-minicnn", "minicnn-to-torch"])
def test_weights_moved_either_way_give_the_same_logits_and_gradients(mnist_batch, dtype,
                                                                      move_weights):
    x, labels = mnist_batch
    mc_model, torch_model = move_weights("lenet5", dtype)
    assert_same_results(minicnn_step(mc_model, x.astype(dtype), labels),
                        torch_step(torch_model, x, labels), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_variant(mnist_batch, dtype, training):
    # The reference is PyTorch in float64 for both dtypes. In training mode BatchNorm's input
    # gradient is a difference of nearly equal terms, and PyTorch's own float32 gradient of
    # the first convolution's weight is then 2e-5 (relative) away from the float64 one, while
    # minicnn's float32 is within 1e-6: comparing two float32 results would test PyTorch's
    # rounding, not minicnn.
    x, labels = mnist_batch
    torch.manual_seed(1)
    torch_model = NETWORKS["lenet5-batch-norm"][1]().double()
    # Two training forwards give the running statistics (and num_batches_tracked) values
    # worth comparing, and that eval mode then uses.
    with torch.no_grad():
        for images in (x[:8], x[8:]):
            torch_model(torch.from_numpy(images))
    mc_model = NETWORKS["lenet5-batch-norm"][0]().to(dtype)
    mc_model.load_state_dict(torch_model.state_dict())
    mc_model.train(training)
    torch_model.train(training)
    # In training mode the buffers are compared after this forward updated them.
    assert_same_results(minicnn_step(mc_model, x.astype(dtype), labels),
                        torch_step(torch_model, x, labels), dtype)
