"""RandomAffine: rotate, shift, scale and shear each image by a random amount (for digits).

Every output pixel is *inverse-mapped*: the inverse of the image's affine map says where in
the input it comes from, and the value there is read by nearest-neighbour or bilinear
interpolation; an output pixel whose source lies outside the input gets ``fill``. Mapping
backwards is what leaves no holes: mapping each input pixel forwards would scatter them and
miss some output pixels.

The conventions are torchvision's (``transforms.RandomAffine`` and ``functional.affine`` on
tensors): coordinates are centred on the image's centre, the y axis points down (so a positive
angle turns the image clockwise on screen), translations are whole pixels, and sampling is
``torch.nn.functional.grid_sample`` with ``align_corners=False`` and zero padding.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from minicnn.data.transforms.base import RandomTransform

__all__ = ["INTERPOLATIONS", "AffineParams", "RandomAffine", "inverse_affine_matrix"]

INTERPOLATIONS = ("nearest", "bilinear")


class AffineParams(NamedTuple):
    """Each image's map: ``angle`` (N,) degrees, ``translate`` (N, 2) whole pixels (x, y),
    ``scale`` (N,), ``shear`` (N, 2) degrees (x, y)."""

    angle: np.ndarray
    translate: np.ndarray
    scale: np.ndarray
    shear: np.ndarray


def inverse_affine_matrix(center, angle, translate, scale, shear) -> np.ndarray:
    """The inverse affine maps, ``(N, 2, 3)``, output (x, y) -> input (x, y).

    The forward map is torchvision's ``M = T * C * RSS * C^-1``: ``C^-1`` moves ``center``
    to the origin, ``RSS = R(angle) * S(scale) * SHy(shear_y) * SHx(shear_x)`` rotates,
    scales and shears, ``C`` moves the centre back and ``T`` translates, with
    ``R(a) = [[cos a, -sin a], [sin a, cos a]]``, ``SHx(s) = [[1, -tan s], [0, 1]]`` and
    ``SHy(s) = [[1, 0], [-tan s, 1]]``. Its inverse is ``C * RSS^-1 * C^-1 * T^-1``, written
    out here in closed form (``det(R * SHy * SHx) = 1``, so ``RSS^-1`` is the adjugate over
    ``scale``).

    Args:
        center: ``(cx, cy)``, in the coordinates of the grid (0 is the image's centre).
        angle: ``(N,)`` degrees. translate: ``(N, 2)``. scale: ``(N,)``. shear: ``(N, 2)``
            degrees.
    """
    rotation = np.radians(np.asarray(angle, dtype=np.float64))
    shear = np.radians(np.asarray(shear, dtype=np.float64))
    shear_x, shear_y = shear[:, 0], shear[:, 1]
    translate = np.asarray(translate, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    center_x, center_y = center
    # RSS without the scale: [[a, b], [c, d]], determinant 1.
    a = np.cos(rotation - shear_y) / np.cos(shear_y)
    b = -np.cos(rotation - shear_y) * np.tan(shear_x) / np.cos(shear_y) - np.sin(rotation)
    c = np.sin(rotation - shear_y) / np.cos(shear_y)
    d = -np.sin(rotation - shear_y) * np.tan(shear_x) / np.cos(shear_y) + np.cos(rotation)
    matrix = np.zeros((len(rotation), 2, 3))
    matrix[:, 0, 0], matrix[:, 0, 1] = d / scale, -b / scale
    matrix[:, 1, 0], matrix[:, 1, 1] = -c / scale, a / scale
    # T^-1 and C^-1 first (x -> x - c - t), then C: the last column.
    shift_x = -center_x - translate[:, 0]
    shift_y = -center_y - translate[:, 1]
    matrix[:, 0, 2] = matrix[:, 0, 0] * shift_x + matrix[:, 0, 1] * shift_y + center_x
    matrix[:, 1, 2] = matrix[:, 1, 0] * shift_x + matrix[:, 1, 1] * shift_y + center_y
    return matrix


def _range(name: str, value, *, symmetric_from_number: bool, lengths=(2,), positive=False):
    """A number ``v`` -> ``(-v, v)``; a sequence is checked for its length and kept."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not symmetric_from_number:
            raise ValueError(f"RandomAffine: {name} must be a sequence, got {value!r}")
        if value < 0:
            raise ValueError(f"RandomAffine: {name}, if a single number, must be "
                             f"non-negative, got {value!r}")
        return (-float(value), float(value))
    if (not isinstance(value, Sequence) or len(value) not in lengths
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"RandomAffine: {name} must be a number or a sequence of "
                         f"{' or '.join(map(str, lengths))} numbers, got {value!r}")
    if positive and not all(v > 0 for v in value):
        raise ValueError(f"RandomAffine: {name} values must be positive, got {value!r}")
    return tuple(float(v) for v in value)


class RandomAffine(RandomTransform):
    """A random rotation, translation, scaling and shear of each image, as torchvision's.

    For each image: ``angle ~ U(degrees)``; ``tx = round(U(-translate[0] * W,
    translate[0] * W))`` and ``ty`` likewise with ``H`` (whole pixels); ``scale ~ U(scale)``;
    ``shear_x ~ U(shear[0:2])`` and ``shear_y ~ U(shear[2:4])`` (0 when not given). The image
    is then warped about ``center`` by the map of :func:`inverse_affine_matrix`, each output
    pixel read from the input at its inverse-mapped place.

    Args:
        degrees: the angle range in degrees, ``(min, max)``, or ``d`` for ``(-d, d)``;
            0 for no rotation. A positive angle turns the image clockwise.
        translate: ``(a, b)``: the largest horizontal and vertical shift as fractions of the
            width and the height. Default: no shift.
        scale: ``(min, max)`` scale factor. Default: 1.
        shear: degrees: ``s`` for ``(-s, s)`` along x, ``(min, max)`` along x, or ``(x_min,
            x_max, y_min, y_max)``. Default: none.
        interpolation: ``"nearest"`` (the default, as torchvision's) or ``"bilinear"``.
        fill: the value of pixels whose source is outside the image, one number or one per
            channel. With bilinear interpolation a pixel near the border mixes the image
            (already weighted down by the zero outside it) and ``fill`` by the share of its
            source inside the image, exactly as torchvision does.
        center: ``(x, y)`` pixel about which to rotate, scale and shear. Default: the
            image's centre.

    Shape:
        ``(C, H, W)`` or ``(N, C, H, W)``, unchanged, same dtype. The coordinates are
        computed in float64 (torchvision computes them in the image's dtype, so a float32
        image may round a source position differently when it falls within float32's error
        of a pixel boundary).

    Example::

        >>> affine = RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
        >>> affine(np.zeros((8, 1, 28, 28), np.float32), np.random.default_rng(0)).shape
        (8, 1, 28, 28)
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation: str = "nearest", fill=0, center=None):
        self.degrees = _range("degrees", degrees, symmetric_from_number=True)
        self.translate = None
        if translate is not None:
            self.translate = _range("translate", translate, symmetric_from_number=False)
            if not all(0 <= t <= 1 for t in self.translate):
                raise ValueError(f"RandomAffine: translate values must lie in [0, 1], got "
                                 f"{translate!r}")
        self.scale = (None if scale is None
                      else _range("scale", scale, symmetric_from_number=False, positive=True))
        self.shear = (None if shear is None
                      else _range("shear", shear, symmetric_from_number=True, lengths=(2, 4)))
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"RandomAffine: interpolation must be one of {INTERPOLATIONS}, "
                             f"got {interpolation!r}")
        self.interpolation = interpolation
        fills = np.asarray(fill)
        if fills.ndim > 1 or fills.size == 0 or not np.issubdtype(fills.dtype, np.number):
            raise ValueError(f"RandomAffine: fill must be a number or a sequence of numbers "
                             f"(one per channel), got {fill!r}")
        self.fill = fill
        if center is not None and (not isinstance(center, Sequence) or len(center) != 2):
            raise ValueError(f"RandomAffine: center must be a pair (x, y), got {center!r}")
        self.center = center

    def draw(self, images: np.ndarray, generator: np.random.Generator) -> AffineParams:
        count = images.shape[0]
        height, width = images.shape[-2:]
        angle = generator.uniform(*self.degrees, size=count)
        translate = np.zeros((count, 2))
        if self.translate is not None:
            largest = np.array([self.translate[0] * width, self.translate[1] * height])
            # Python's round, as torchvision's int(round(...)): halves go to the even side.
            translate = np.rint(generator.uniform(-largest, largest, size=(count, 2)))
        scale = (generator.uniform(*self.scale, size=count) if self.scale is not None
                 else np.ones(count))
        shear = np.zeros((count, 2))
        if self.shear is not None:
            shear[:, 0] = generator.uniform(*self.shear[:2], size=count)
            if len(self.shear) == 4:
                shear[:, 1] = generator.uniform(*self.shear[2:], size=count)
        return AffineParams(angle, translate, scale, shear)

    def source_positions(self, shape: tuple[int, ...],
                         params: AffineParams) -> tuple[np.ndarray, np.ndarray]:
        """Where each output pixel comes from: ``(rows, columns)``, each ``(N, H, W)`` float64,
        in input pixel units (pixel ``k`` spans ``[k - 0.5, k + 0.5)``)."""
        height, width = shape[-2:]
        if self.center is None:
            center = (0.0, 0.0)
        else:  # pixel coordinates -> the grid's, whose origin is the image's centre
            center = (self.center[0] - width * 0.5, self.center[1] - height * 0.5)
        matrix = inverse_affine_matrix(center, *params)
        # The centre of output pixel (row, column), in coordinates centred on the image.
        x = (np.arange(width) - width * 0.5 + 0.5)[None, None, :]
        y = (np.arange(height) - height * 0.5 + 0.5)[None, :, None]
        source_x = matrix[:, 0, 0, None, None] * x + matrix[:, 0, 1, None, None] * y
        source_x += matrix[:, 0, 2, None, None]
        source_y = matrix[:, 1, 0, None, None] * x + matrix[:, 1, 1, None, None] * y
        source_y += matrix[:, 1, 2, None, None]
        # Back to pixel indices: grid_sample's unnormalisation with align_corners=False.
        return source_y + (height - 1) / 2, source_x + (width - 1) / 2

    def apply(self, images: np.ndarray, params: AffineParams) -> np.ndarray:
        count, channels, height, width = images.shape
        fills = np.asarray(self.fill, dtype=np.float64)
        if fills.size not in (1, channels):
            raise ValueError(f"{self!r}: fill has {fills.size} values, but the images have "
                             f"{channels} channels")
        fills = np.broadcast_to(fills.reshape(-1), (channels,))[None, :, None, None]
        rows, columns = self.source_positions(images.shape, params)
        samples = np.arange(count)[:, None, None]

        def read(row, column):
            """Input values at integer places ``(N, H, W)`` -> ``(N, C, H, W)`` float64, 0
            outside the image, and where it was inside."""
            inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
            values = images[samples, :, np.where(inside, row, 0), np.where(inside, column, 0)]
            values = np.moveaxis(values, -1, 1).astype(np.float64)  # (N, H, W, C) -> NCHW
            return values * inside[:, None], inside

        if self.interpolation == "nearest":
            # np.rint and grid_sample's nearbyint both round halves to even.
            values, inside = read(np.rint(rows).astype(np.intp),
                                  np.rint(columns).astype(np.intp))
            out = np.where(inside[:, None], values, fills)
        else:
            top, left = np.floor(rows), np.floor(columns)
            down, right = rows - top, columns - left
            top, left = top.astype(np.intp), left.astype(np.intp)
            out = np.zeros((count, channels, height, width))
            mask = np.zeros((count, 1, height, width))
            for row_offset, row_weight in ((0, 1 - down), (1, down)):
                for column_offset, column_weight in ((0, 1 - right), (1, right)):
                    values, inside = read(top + row_offset, left + column_offset)
                    weight = (row_weight * column_weight)[:, None]
                    out += values * weight
                    mask += inside[:, None] * weight
            out = out * mask + (1 - mask) * fills
        return out.astype(images.dtype)

    def __repr__(self) -> str:
        options = [f"degrees={list(self.degrees)}"]
        for name in ("translate", "scale", "shear"):
            value = getattr(self, name)
            if value is not None:
                options.append(f"{name}={list(value)}")
        if self.interpolation != "nearest":
            options.append(f"interpolation={self.interpolation}")
        if np.any(np.asarray(self.fill) != 0):
            options.append(f"fill={self.fill!r}")
        if self.center is not None:
            options.append(f"center={list(self.center)}")
        return f"RandomAffine({', '.join(options)})"
