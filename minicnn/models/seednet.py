"""The smallest whole CNN: INPUT -> CONV -> RELU -> POOL -> FC, for 32x32 colour images.

The architecture CS231n uses to introduce convolutional networks: one 3x3 convolution
(padding 1 keeps 32x32), ReLU, 2x2 max-pooling to 16x16, and a fully connected layer to
the class scores.
"""

from __future__ import annotations

from minicnn.nn.activation import ReLU
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.flatten import Flatten
from minicnn.nn.linear import Linear
from minicnn.nn.module import Module
from minicnn.nn.pooling import MaxPool2d

__all__ = ["SeedNet"]


class SeedNet(Module):
    """INPUT-CONV-RELU-POOL-FC.

    Shape:
        - Input: ``(N, in_channels, 32, 32)``
        - After ``features``: ``(N, channels, 16, 16)``
        - Output: ``(N, num_classes)``

    Args:
        num_classes: number of output logits. Default: 10
        in_channels: input channels. Default: 3
        channels: filters in the convolution. Default: 12
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, channels: int = 12):
        super().__init__()
        self.features = Sequential(
            Conv2d(in_channels, channels, kernel_size=3, padding=1), ReLU(), MaxPool2d(2),
        )
        self.classifier = Sequential(Flatten(), Linear(channels * 16 * 16, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))

    def backward(self, grad_output):
        return self.features.backward(self.classifier.backward(grad_output))
