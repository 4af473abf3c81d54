"""record_gradient_flow: the gradient reaching each layer, equal to PyTorch's, and dead ReLUs."""

from __future__ import annotations

import numpy as np
import torch

from minicnn.nn.loss import CrossEntropyLoss
from minicnn.viz import record_gradient_flow
from tests.helpers.twins import twin_pair


def torch_grad_outputs(model, images, labels) -> dict[str, np.ndarray]:
    """``grad_output[0]`` of every leaf module of a torch model, by module name."""
    grads = {}
    handles = []
    for name, module in model.named_modules():
        if not list(module.children()):
            def hook(module, grad_input, grad_output, name=name):
                grads[name] = grad_output[0].detach().numpy().copy()
            handles.append(module.register_full_backward_hook(hook))
    x = torch.tensor(images, requires_grad=True)
    torch.nn.functional.cross_entropy(model(x), torch.from_numpy(labels)).backward()
    for handle in handles:
        handle.remove()
    return grads


def test_statistics_equal_those_of_pytorchs_backward_hooks():
    ours, theirs = twin_pair("lenet5", np.float64, seed=0)
    rng = np.random.default_rng(0)
    images, labels = rng.standard_normal((8, 1, 28, 28)), rng.integers(0, 10, 8)
    records = record_gradient_flow(ours, CrossEntropyLoss(), images, labels)
    expected = torch_grad_outputs(theirs, images, labels)
    leaves = [name for name, module in theirs.named_modules() if not list(module.children())]
    assert [r.name for r in records] == leaves, "every leaf layer, in forward order"
    assert set(expected) == set(leaves)
    for record in records:
        magnitude = np.abs(expected[record.name])
        np.testing.assert_allclose(record.mean_abs, magnitude.mean(), rtol=1e-10,
                                   err_msg=record.name)
        np.testing.assert_allclose(record.max_abs, magnitude.max(), rtol=1e-10,
                                   err_msg=record.name)
        assert record.zero_fraction == np.mean(magnitude == 0), record.name
    assert records[0].kind == "Conv2d" and records[-1].kind == "Linear"


def test_dead_relu_shows_as_zero_gradient_below_it_and_model_is_left_as_found():
    ours, _ = twin_pair("lenet5", np.float64, seed=0)
    # A bias of -1000 keeps every input of classifier.2's ReLU negative: the layer is dead.
    ours.classifier[1].bias.data[:] = -1000.0
    before = {name: None if p.grad is None else p.grad.copy()
              for name, p in ours.named_parameters()}
    rng = np.random.default_rng(1)
    records = {r.name: r for r in record_gradient_flow(
        ours, CrossEntropyLoss(), rng.standard_normal((8, 1, 28, 28)), rng.integers(0, 10, 8))}
    assert records["classifier.2"].zero_fraction == 0.0, "above the dead layer: gradient"
    for name in ("classifier.1", "classifier.0", "features.5", "features.0"):
        assert records[name].zero_fraction == 1.0 and records[name].max_abs == 0.0, (
            f"{name}: below a dead ReLU no gradient arrives")
    for name, parameter in ours.named_parameters():
        assert parameter.grad is None and before[name] is None, f"{name}.grad was changed"
    assert all(not m._backward_hooks and not m._forward_hooks for m in ours.modules())
