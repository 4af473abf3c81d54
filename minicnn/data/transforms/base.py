"""What every transform shares: the image check, and the base class of the random ones.

A random transform (a crop, a flip, an affine warp, a colour jitter) draws its parameters
afresh for every image: ``transform(batch, generator)`` draws one set per image of the batch
from ``generator``, then applies them all at once. Keeping the two steps apart,
:meth:`RandomTransform.draw` and :meth:`RandomTransform.apply`, lets a test replay the same
parameters through a plain per-image loop, and lets a data loader hand each batch a generator
of its own, so that a resumed run draws the same crops and flips as one never stopped
(see :class:`~minicnn.data.dataloader.DataLoader`).

In data-parallel training each rank holds only a share of every batch. Given a
:class:`BatchShare` in place of the generator, a random transform draws the parameters of the
*whole* batch, exactly as one process holding it would, and keeps the rows of its share: every
image gets the crop and flip it gets in one process, whatever the number of ranks
(:class:`~minicnn.data.sharded.ShardedDataLoader` hands its dataset one).
"""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import numpy as np

from minicnn.data.dataset import as_generator

__all__ = ["BatchShare", "RandomTransform", "check_images", "is_random"]


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


class BatchShare(NamedTuple):
    """Rows ``start:stop`` of a batch of ``size`` images whose random draws come from
    ``generator``: what one rank of a data-parallel job holds of a batch.

    Passed to a :class:`RandomTransform` (directly, or through a dataset's ``get_batch`` and a
    :class:`~minicnn.data.transforms.Compose`) in place of a generator, with the share's
    ``stop - start`` images: the transform draws the parameters of all ``size`` images from
    ``generator`` and applies rows ``start:stop`` of them. Every rank makes the same draws, so
    each image is transformed as in one process given the whole batch and ``generator``.
    """

    generator: np.random.Generator
    start: int
    stop: int
    size: int

    def draw(self, transform: RandomTransform, images: np.ndarray):
        """``transform``'s parameters for the share's ``images``, drawn for the whole batch."""
        if len(images) != self.stop - self.start:
            raise ValueError(
                f"{transform!r}: a share of rows {self.start}:{self.stop} of a batch of "
                f"{self.size} takes {self.stop - self.start} images, got {len(images)}")
        # draw() reads only the images' shape: a read-only view of one zero, no memory.
        whole = np.broadcast_to(images.dtype.type(0), (self.size, *images.shape[1:]))
        params = transform.draw(whole, self.generator)
        return type(params)(*(None if field is None else field[self.start : self.stop]
                              for field in params))


class RandomTransform(abc.ABC):
    """Base class of the transforms that draw their parameters per image.

    ``transform(images, generator=None)`` takes one image ``(C, H, W)`` or a batch
    ``(N, C, H, W)`` (more leading axes are more samples), draws one set of parameters per
    image from ``generator`` (``None``: minicnn's global generator, as torchvision uses
    torch's; a :class:`BatchShare`: the whole batch's draws, the share's rows kept), and
    returns the transformed images in the input's dtype. Subclasses implement :meth:`draw`
    and :meth:`apply` on batches ``(N, C, H, W)``.
    """

    def __call__(self, images,
                 generator: np.random.Generator | BatchShare | None = None) -> np.ndarray:
        images = check_images(self, images)
        batch = images.reshape(-1, *images.shape[-3:])
        if isinstance(generator, BatchShare):
            params = generator.draw(self, batch)
        else:
            params = self.draw(batch, as_generator(generator, type(self).__name__))
        out = self.apply(batch, params)
        return out.reshape(*images.shape[:-3], *out.shape[-3:])

    @abc.abstractmethod
    def draw(self, images: np.ndarray, generator: np.random.Generator) -> Any:
        """The random parameters of each image of ``images`` ``(N, C, H, W)``: a NamedTuple of
        arrays (or None) whose first axis is the image. Only the shape of ``images`` may
        matter, not their values (a :class:`BatchShare` draws for a batch it does not hold)."""

    @abc.abstractmethod
    def apply(self, images: np.ndarray, params) -> np.ndarray:
        """``images`` ``(N, C, H, W)`` transformed with the parameters :meth:`draw` gave;
        a new array of the same dtype (the input is never written)."""
