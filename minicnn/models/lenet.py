"""LeNet-5 (LeCun et al., 1998) for 28x28 MNIST digits, in two variants.

``variant="modern"`` (the default) is the network most tutorials call LeNet-5 today:
ReLU and max-pooling. ``variant="original"`` keeps the paper's tanh and average pooling
(subsampling), without its trainable subsampling coefficients and partial C3 connections.
Both pad the first convolution by 2, which is how the paper's 32x32 input frame appears
when MNIST is stored as 28x28. ``width`` scales every hidden layer (6 and 16 channels, 120
and 84 units) for tuning; at its default, 1, the network is the paper's.

The layers live in two ``Sequential`` blocks, so state_dict keys read ``features.0.weight``,
``classifier.1.weight``, ... exactly as the equivalent ``torch.nn`` model's.
"""

from __future__ import annotations

from types import SimpleNamespace

from minicnn.nn.activation import ReLU, Tanh
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Linear
from minicnn.nn.module import Module
from minicnn.nn.pooling import AvgPool2d, MaxPool2d

__all__ = ["LeNet5", "lenet5_blocks"]

VARIANTS = ("modern", "original")


# The layer classes LeNet-5 is made of, by their torch.nn names.
_LAYERS = SimpleNamespace(AvgPool2d=AvgPool2d, Conv2d=Conv2d, Flatten=Flatten, Linear=Linear,
                          MaxPool2d=MaxPool2d, ReLU=ReLU, Sequential=Sequential, Tanh=Tanh)


def scaled_size(size: int, width: float) -> int:
    """A hidden size times the width multiplier, rounded, at least 1."""
    return max(1, round(size * width))


def lenet5_blocks(nn=_LAYERS, num_classes: int = 10, variant: str = "modern",
                  width: float = 1.0):
    """LeNet-5's two blocks, ``(features, classifier)``, built from the layer classes of ``nn``.

    The one description of the network: :class:`LeNet5` builds its blocks with minicnn's
    layers (the default); ``lenet5_blocks(torch.nn)`` gives PyTorch's layer-for-layer
    equivalent, with the same ``state_dict`` keys below each block (``minicnn gradcheck``
    compares the two). The arguments are :class:`LeNet5`'s.

    Example::

        import torch
        features, classifier = lenet5_blocks(torch.nn)   # torch's LeNet-5, layer for layer
        twin = torch.nn.Sequential(features, classifier)
    """
    if variant not in VARIANTS:
        raise ValueError(f"LeNet5: variant must be one of {VARIANTS}, got {variant!r}")
    if not width > 0:
        raise ValueError(f"LeNet5: width must be positive, got {width!r}")
    activation = nn.ReLU if variant == "modern" else nn.Tanh
    pool = nn.MaxPool2d if variant == "modern" else nn.AvgPool2d
    c1, c2, h1, h2 = (scaled_size(size, width) for size in (6, 16, 120, 84))
    features = nn.Sequential(
        nn.Conv2d(1, c1, kernel_size=5, padding=2), activation(), pool(2),
        nn.Conv2d(c1, c2, kernel_size=5), activation(), pool(2),
    )
    classifier = nn.Sequential(
        nn.Flatten(),
        nn.Linear(c2 * 5 * 5, h1), activation(),
        nn.Linear(h1, h2), activation(),
        nn.Linear(h2, num_classes),
    )
    return features, classifier


class LeNet5(Module):
    """LeNet-5: two conv/pool blocks, then three fully connected layers.

    Shape:
        - Input: ``(N, 1, 28, 28)``
        - After ``features``: ``(N, C2, 5, 5)``, ``C2 = 16`` at width 1
          (conv 5x5 pad 2: 28 -> 28; pool 2: 14; conv 5x5: 10; pool 2: 5)
        - Output: ``(N, num_classes)`` logits

    Args:
        num_classes: number of output logits. Default: 10
        variant: ``"modern"`` (ReLU, max-pooling) or ``"original"`` (tanh, average pooling)
        width: multiplier of every hidden size: the convolutions have ``round(6 * width)``
            and ``round(16 * width)`` channels, the hidden linear layers ``round(120 * width)``
            and ``round(84 * width)`` units (at least 1 each). Default: 1 (the paper's sizes)
    """

    def __init__(self, num_classes: int = 10, variant: str = "modern", width: float = 1.0):
        super().__init__()
        features, classifier = lenet5_blocks(_LAYERS, num_classes, variant, width)
        self.variant = variant
        self.width = width
        self.features = features
        self.classifier = classifier

    def forward(self, x):
        return self.classifier(self.features(x))

    def backward(self, grad_output):
        return self.features.backward(self.classifier.backward(grad_output))
