"""LeNet-5 (LeCun et al., 1998) for 28x28 MNIST digits, in two variants.

``variant="modern"`` (the default) is the network most tutorials call LeNet-5 today:
ReLU and max-pooling. ``variant="original"`` keeps the paper's tanh and average pooling
(subsampling), without its trainable subsampling coefficients and partial C3 connections.
Both pad the first convolution by 2, which is how the paper's 32x32 input frame appears
when MNIST is stored as 28x28.

The layers live in two ``Sequential`` blocks, so state_dict keys read ``features.0.weight``,
``classifier.1.weight``, ... exactly as the equivalent ``torch.nn`` model's.
"""

from __future__ import annotations

from minicnn.nn.activation import ReLU, Tanh
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Linear
from minicnn.nn.module import Module
from minicnn.nn.pooling import AvgPool2d, MaxPool2d

__all__ = ["LeNet5"]

VARIANTS = ("modern", "original")


class LeNet5(Module):
    """LeNet-5: two conv/pool blocks, then three fully connected layers.

    Shape:
        - Input: ``(N, 1, 28, 28)``
        - After ``features``: ``(N, 16, 5, 5)``
          (conv 5x5 pad 2: 28 -> 28; pool 2: 14; conv 5x5: 10; pool 2: 5)
        - Output: ``(N, num_classes)`` logits

    Args:
        num_classes: number of output logits. Default: 10
        variant: ``"modern"`` (ReLU, max-pooling) or ``"original"`` (tanh, average pooling)
    """

    def __init__(self, num_classes: int = 10, variant: str = "modern"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"LeNet5: variant must be one of {VARIANTS}, got {variant!r}")
        activation = ReLU if variant == "modern" else Tanh
        pool = MaxPool2d if variant == "modern" else AvgPool2d
        self.variant = variant
        self.features = Sequential(
            Conv2d(1, 6, kernel_size=5, padding=2), activation(), pool(2),
            Conv2d(6, 16, kernel_size=5), activation(), pool(2),
        )
        self.classifier = Sequential(
            Flatten(),
            Linear(16 * 5 * 5, 120), activation(),
            Linear(120, 84), activation(),
            Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))

    def backward(self, grad_output):
        return self.features.backward(self.classifier.backward(grad_output))
