"""RandomHorizontalFlip: mirror each image left to right with probability ``p``."""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from minicnn.data.transforms.base import RandomTransform

__all__ = ["FlipParams", "RandomHorizontalFlip"]


class FlipParams(NamedTuple):
    """Whether each image is flipped, ``(N,)`` bool."""

    flip: np.ndarray


class RandomHorizontalFlip(RandomTransform):
    """Reverse the last axis (width) of each image with probability ``p``, independently.

    As ``torchvision.transforms.RandomHorizontalFlip``: an image is flipped when a uniform draw
    in [0, 1) falls below ``p``. A cat facing left is still a cat; a digit is not (a mirrored
    2 is no digit), so this suits CIFAR, not MNIST.

    Args:
        p: the probability of flipping each image. Default: 0.5

    Shape:
        ``(C, H, W)`` or ``(N, C, H, W)``, unchanged, same dtype.
    """

    def __init__(self, p: float = 0.5):
        if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got "
                             f"{p!r}")
        self.p = float(p)

    def draw(self, images: np.ndarray, generator: np.random.Generator) -> FlipParams:
        return FlipParams(generator.random(images.shape[0]) < self.p)

    def apply(self, images: np.ndarray, params: FlipParams) -> np.ndarray:
        out = images.copy()
        out[params.flip] = images[params.flip, ..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
