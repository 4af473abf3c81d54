"""Ready-made networks, each with a ``torch.nn`` twin of the same state_dict keys."""

from minicnn.models.lenet import LeNet5, scaled_size
from minicnn.models.seednet import SeedNet
from minicnn.nn.module import Module

__all__ = ["MODEL_NAMES", "LeNet5", "SeedNet", "build_model"]

# The networks by their command-line names.
MODEL_NAMES = ("lenet5", "lenet5-original", "seednet")


def build_model(name: str, num_classes: int = 10, width: float = 1.0,
                in_channels: int = 1) -> Module:
    """A network by its command-line name, for images of ``in_channels`` channels.

    ``lenet5`` and ``lenet5-original`` take 28x28 digits (1 channel); ``seednet`` takes
    32x32 images of any channel count (3 for CIFAR). ``width`` multiplies every hidden size
    (see :class:`LeNet5`; SeedNet's 12 filters); 1 gives the published networks.

    Raises:
        ValueError: an unknown name, or a network that cannot take ``in_channels``.
    """
    if name in ("lenet5", "lenet5-original"):
        if in_channels != 1:
            raise ValueError(
                f"{name}: LeNet-5 takes 1-channel 28x28 digits (MNIST, Fashion-MNIST), not "
                f"{in_channels}-channel images; choose a network for colour images, e.g. "
                f"seednet")
        variant = "modern" if name == "lenet5" else "original"
        return LeNet5(num_classes, variant=variant, width=width)
    if name == "seednet":
        return SeedNet(num_classes, in_channels=in_channels,
                       channels=scaled_size(12, width))
    raise ValueError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
