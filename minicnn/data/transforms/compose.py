"""Compose (transforms in a row) and Lambda (a function as a transform)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from minicnn.data.transforms.base import is_random

__all__ = ["Compose", "Lambda"]


class Compose:
    """Apply ``transforms`` one after the other.

    ``compose(images, generator=None)``: the generator goes to each random transform in turn
    (see :class:`~minicnn.data.transforms.base.RandomTransform`), so one generator decides
    every random draw of the pipeline.

    Args:
        transforms: callables, each taking and returning an array.
    """

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)
        for transform in self.transforms:
            if not callable(transform):
                raise TypeError(
                    f"Compose: every transform must be callable, got {type(transform).__name__}"
                )

    def __call__(self, images: np.ndarray,
                 generator: np.random.Generator | None = None) -> np.ndarray:
        for transform in self.transforms:
            if is_random(transform):
                images = transform(images, generator)
            else:
                images = transform(images)
        return images

    def __repr__(self) -> str:
        lines = "".join(f"    {transform!r}\n" for transform in self.transforms)
        return f"Compose(\n{lines})"


class Lambda:
    """Wrap a function as a transform (it must accept single images and batches alike)."""

    def __init__(self, function: Callable[[np.ndarray], np.ndarray]):
        if not callable(function):
            raise TypeError(f"Lambda: expected a callable, got {type(function).__name__}")
        self.function = function

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.function(images)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.function, '__name__', repr(self.function))})"
