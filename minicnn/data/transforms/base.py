"""What every transform shares: the image check, and the base class of the random ones.

A random transform (a crop, a flip, an affine warp, a colour jitter) draws its parameters
afresh for every image: ``transform(batch, generator)`` draws one set per image of the batch
from ``generator``, then applies them all at once. Keeping the two steps apart,
:meth:`RandomTransform.draw` and :meth:`RandomTransform.apply`, lets a test replay the same
parameters through a plain per-image loop, and lets a data loader hand each batch a generator
of its own, so that a resumed run draws the same crops and flips as one never stopped
(see :class:`~minicnn.data.dataloader.DataLoader`).
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from minicnn.data.dataset import as_generator

__all__ = ["RandomTransform", "check_images", "is_random"]


def check_images(owner, images) -> np.ndarray:
    """``images`` as a float array ``(..., C, H, W)``, else a ValueError naming ``owner``."""
    images = np.asarray(images)
    if images.ndim < 3 or not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"{owner!r}: expected float images shaped (C, H, W) or (N, C, H, W), got shape "
            f"{images.shape} and dtype {images.dtype}"
        )
    return images


def is_random(transform) -> bool:
    """Whether ``transform`` draws random numbers: a :class:`RandomTransform`, or a
    :class:`~minicnn.data.transforms.Compose` holding one."""
    if isinstance(transform, RandomTransform):
        return True
    return any(is_random(part) for part in getattr(transform, "transforms", ()))


class RandomTransform(abc.ABC):
    """Base class of the transforms that draw their parameters per image.

    ``transform(images, generator=None)`` takes one image ``(C, H, W)`` or a batch
    ``(N, C, H, W)`` (more leading axes are more samples), draws one set of parameters per
    image from ``generator`` (``None``: minicnn's global generator, as torchvision uses
    torch's), and returns the transformed images in the input's dtype. Subclasses implement
    :meth:`draw` and :meth:`apply` on batches ``(N, C, H, W)``.
    """

    def __call__(self, images, generator: np.random.Generator | None = None) -> np.ndarray:
        images = check_images(self, images)
        batch = images.reshape(-1, *images.shape[-3:])
        params = self.draw(batch, as_generator(generator, type(self).__name__))
        out = self.apply(batch, params)
        return out.reshape(*images.shape[:-3], *out.shape[-3:])

    @abc.abstractmethod
    def draw(self, images: np.ndarray, generator: np.random.Generator) -> Any:
        """The random parameters of each image of ``images`` ``(N, C, H, W)``: a NamedTuple of
        arrays whose first axis is the image."""

    @abc.abstractmethod
    def apply(self, images: np.ndarray, params) -> np.ndarray:
        """``images`` ``(N, C, H, W)`` transformed with the parameters :meth:`draw` gave;
        a new array of the same dtype (the input is never written)."""
