"""The torch twins of minicnn's models, and one training step of each, for parity tests.

Each twin is written with ``torch.nn`` and the same attribute names as the minicnn model, so
the two state_dicts share their keys and weights move either way with ``load_state_dict``.
The twins are written out here, not built by minicnn's code: they are the oracle.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from minicnn.models import LeNet5, SeedNet
from minicnn.nn.loss import CrossEntropyLoss
from tests.helpers.tolerances import ByDtype

__all__ = ["TORCH_DTYPES", "TWINS", "TorchLeNet5", "TorchSeedNet", "max_pool_routes_are_fragile",
           "minicnn_step", "torch_step", "twin_pair"]

TORCH_DTYPES = ByDtype({np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32})


class TorchLeNet5(torch.nn.Module):
    """The torch twin of ``minicnn.models.LeNet5`` (both variants)."""

    def __init__(self, num_classes: int = 10, variant: str = "modern"):
        super().__init__()
        nn = torch.nn
        activation = nn.ReLU if variant == "modern" else nn.Tanh
        pool = nn.MaxPool2d if variant == "modern" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), activation(), pool(2),
            nn.Conv2d(6, 16, kernel_size=5), activation(), pool(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), activation(),
            nn.Linear(120, 84), activation(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


# The class name is part of repr(model): the twin prints as "LeNet5(...)" like ours.
TorchLeNet5.__name__ = "LeNet5"


class TorchSeedNet(torch.nn.Module):
    """The torch twin of ``minicnn.models.SeedNet``."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, channels: int = 12):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, channels, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(channels * 16 * 16, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


TorchSeedNet.__name__ = "SeedNet"


# id -> (minicnn constructor, torch constructor, input shape of one sample)
TWINS = {
    "lenet5": (lambda: LeNet5(), lambda: TorchLeNet5(), (1, 28, 28)),
    "lenet5-original": (lambda: LeNet5(variant="original"),
                        lambda: TorchLeNet5(variant="original"), (1, 28, 28)),
    "seednet": (lambda: SeedNet(), lambda: TorchSeedNet(), (3, 32, 32)),
}


def twin_pair(name: str, dtype, seed: int):
    """(minicnn model, torch model) of ``TWINS[name]`` with the torch model's initial weights
    (drawn after ``torch.manual_seed(seed)``) in both, in ``dtype``."""
    build_ours, build_theirs, _ = TWINS[name]
    torch.manual_seed(seed)
    theirs = build_theirs().to(TORCH_DTYPES[dtype])
    ours = build_ours().to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def minicnn_step(model, x: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Logits, cross-entropy loss, input gradient, every parameter's gradient and the buffers,
    as one training step of a minicnn model computes them."""
    criterion = CrossEntropyLoss()
    logits = model(x)
    loss = criterion(logits, labels)
    model.zero_grad()
    grad_input = model.backward(criterion.backward())
    results = {"logits": logits, "loss": np.asarray(loss), "input.grad": grad_input}
    results.update({f"{key}.grad": param.grad for key, param in model.named_parameters()})
    results.update(dict(model.named_buffers()))
    return results


def torch_step(model: torch.nn.Module, x: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`minicnn_step`'s results from a torch model (``x`` cast to the model's dtype)."""
    dtype = next(model.parameters()).dtype
    x_tensor = torch.tensor(x, dtype=dtype, requires_grad=True)
    logits = model(x_tensor)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels))
    model.zero_grad()
    loss.backward()
    results = {"logits": logits, "loss": loss, "input.grad": x_tensor.grad}
    results.update({f"{key}.grad": param.grad for key, param in model.named_parameters()})
    results.update(dict(model.named_buffers()))
    return {key: value.detach().numpy() for key, value in results.items()}


def max_pool_routes_are_fragile(model: torch.nn.Module, x: np.ndarray, relative_eps=2e-6) -> bool:
    """Whether rounding ``model``'s ReLU inputs by ``eps`` could move a max-pool's gradient.

    Each ReLU -> MaxPool2d pair routes its gradient to the first maximum of relu(z) in each
    window. A float32 computation differs from float64 by about 1e-7 of the activations' scale
    in z, so a window is fragile when its two largest relu(z) are within 2 eps of each other
    while its largest z is above -eps (all-negative windows route to their first element either
    way). Forward hooks catch z in float64.
    """
    children = [module for module in model.modules() if not list(module.children())]
    pairs = [(relu, pool) for relu, pool in itertools.pairwise(children)
             if isinstance(relu, torch.nn.ReLU) and isinstance(pool, torch.nn.MaxPool2d)]
    pre_activations = []
    hooks = [relu.register_forward_hook(lambda _, inputs, __: pre_activations.append(inputs[0]))
             for relu, _ in pairs]
    try:
        with torch.no_grad():
            model(torch.from_numpy(x))
    finally:
        for hook in hooks:
            hook.remove()
    for z, (_, pool) in zip(pre_activations, pairs, strict=True):
        eps = relative_eps * float(z.abs().max())
        batch, channels, height, width = z.shape
        windows = torch.nn.functional.unfold(z.reshape(batch * channels, 1, height, width),
                                             pool.kernel_size, stride=pool.stride)
        top_two = torch.relu(windows).topk(2, dim=1).values
        fragile = ((top_two[:, 0] - top_two[:, 1] <= 2 * eps) & (windows.max(dim=1).values > -eps))
        if bool(fragile.any()):
            return True
    return False
