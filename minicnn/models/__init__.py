"""Ready-made networks, each with a ``torch.nn`` twin of the same state_dict keys."""

from minicnn.models.lenet import LeNet5
from minicnn.models.seednet import SeedNet
from minicnn.nn.module import Module

__all__ = ["MODEL_NAMES", "LeNet5", "SeedNet", "build_model"]

# The networks that take 28x28 digits, by their command-line names.
MODEL_NAMES = ("lenet5", "lenet5-original")


def build_model(name: str, num_classes: int = 10, width: float = 1.0) -> Module:
    """A 28x28-digit network by its command-line name: ``lenet5`` or ``lenet5-original``.

    ``width`` multiplies every hidden size (see :class:`LeNet5`); 1 gives the paper's.
    """
    if name == "lenet5":
        return LeNet5(num_classes, width=width)
    if name == "lenet5-original":
        return LeNet5(num_classes, variant="original", width=width)
    raise ValueError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
