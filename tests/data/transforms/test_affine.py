"""RandomAffine against torchvision's recipe rebuilt from its documented parts: the forward map
``T * C * R * S * SHy * SHx * C^-1`` composed and inverted as matrices, sampled by
``torch.nn.functional.grid_sample`` as ``torchvision.transforms.functional.affine`` does, with
the fill applied through a mask channel; and against pictures: a quarter turn, a shift."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data.transforms import RandomAffine
from minicnn.data.transforms.affine import AffineParams


def forward_matrix(center, angle, translate, scale, shear) -> np.ndarray:
    """torchvision's documented ``M = T * C * RSS * C^-1`` (3x3), RSS = R(a) S(s) SHy SHx."""
    a = math.radians(angle)
    shear_x, shear_y = (math.radians(s) for s in shear)

    def shift(x, y):
        return np.array([[1, 0, x], [0, 1, y], [0, 0, 1.0]])

    rotate = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0],
                       [0, 0, 1]])
    scaling = np.diag([scale, scale, 1.0])
    shear_along_x = np.array([[1, -math.tan(shear_x), 0], [0, 1, 0], [0, 0, 1.0]])
    shear_along_y = np.array([[1, 0, 0], [-math.tan(shear_y), 1, 0], [0, 0, 1.0]])
    return (shift(*translate) @ shift(*center) @ rotate @ scaling @ shear_along_y
            @ shear_along_x @ shift(-center[0], -center[1]))


def torchvision_affine(image: np.ndarray, angle, translate, scale, shear, mode, fill,
                       center_pixel=None) -> np.ndarray:
    """One ``(C, H, W)`` float64 image through torchvision's tensor path, rebuilt in torch."""
    channels, height, width = image.shape
    center = (0.0, 0.0) if center_pixel is None else (center_pixel[0] - width * 0.5,
                                                      center_pixel[1] - height * 0.5)
    theta = np.linalg.inv(forward_matrix(center, angle, translate, scale, shear))[:2]
    # _gen_affine_grid: output pixel centres in coordinates centred on the image, mapped by
    # theta, then normalised by half the size for grid_sample.
    x = torch.linspace(-width * 0.5 + 0.5, width * 0.5 - 0.5, width, dtype=torch.float64)
    y = torch.linspace(-height * 0.5 + 0.5, height * 0.5 - 0.5, height, dtype=torch.float64)
    base = torch.stack([x.expand(height, width), y[:, None].expand(height, width),
                        torch.ones(height, width, dtype=torch.float64)], dim=-1)
    grid = base.reshape(-1, 3) @ torch.from_numpy(theta).T
    grid = (grid / torch.tensor([width * 0.5, height * 0.5], dtype=torch.float64))
    grid = grid.reshape(1, height, width, 2)
    # _apply_grid_transform: a channel of ones rides along to say what came from inside.
    with_mask = torch.cat([torch.from_numpy(image), torch.ones(1, height, width,
                                                              dtype=torch.float64)])[None]
    sampled = F.grid_sample(with_mask, grid, mode=mode, padding_mode="zeros",
                            align_corners=False)[0]
    out, mask = sampled[:-1], sampled[-1:].expand(channels, height, width)
    fill = torch.tensor(np.broadcast_to(np.asarray(fill, dtype=np.float64).reshape(-1),
                                        (channels,)).copy()).view(-1, 1, 1).expand_as(out)
    if mode == "nearest":
        out = torch.where(mask < 0.5, fill, out)
    else:
        out = out * mask + (1 - mask) * fill
    return out.numpy()


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 9), width=st.integers(1, 9), channels=st.integers(1, 3),
    angle=st.floats(-180, 180), translate=st.tuples(st.integers(-3, 3), st.integers(-3, 3)),
    scale=st.floats(0.5, 2), shear=st.tuples(st.floats(-40, 40), st.floats(-40, 40)),
    mode=st.sampled_from(["nearest", "bilinear"]),
    fill=st.one_of(st.floats(-1, 1), st.lists(st.floats(-1, 1), min_size=3, max_size=3)),
    center=st.one_of(st.none(), st.tuples(st.floats(0, 8), st.floats(0, 8))),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_torchvision_sampling(height, width, channels, angle, translate, scale, shear,
                                      mode, fill, center, seed):
    if isinstance(fill, list):
        fill = fill[:channels]
    images = np.random.default_rng(seed).random((2, channels, height, width))
    affine = RandomAffine(0, interpolation=mode, fill=fill, center=center)
    params = AffineParams(np.array([angle, 0.0]), np.array([translate, (0, 0)], float),
                          np.array([scale, 1.0]), np.array([shear, (0, 0)], float))
    out = affine.apply(images, params)
    expected = torchvision_affine(images[0], angle, translate, scale, shear, mode, fill, center)
    if mode == "bilinear":
        np.testing.assert_allclose(out[0], expected, rtol=1e-10, atol=1e-12)
    else:
        # Nearest: equal, except where a source position lies on a pixel boundary (a tie,
        # k + 0.5, which hypothesis finds with round numbers): there the last bit of the two
        # computations, done in another order, decides the side.
        rows, columns = affine.source_positions(images.shape, params)
        differ = (out[0] != expected).any(axis=0)
        on_boundary = ((np.abs(rows[0] % 1 - 0.5) < 1e-9)
                       | (np.abs(columns[0] % 1 - 0.5) < 1e-9))
        assert not (differ & ~on_boundary).any(), (
            f"{np.count_nonzero(differ & ~on_boundary)} pixels differ from torchvision's away "
            "from a tie")
    same = torchvision_affine(images[1], 0, (0, 0), 1, (0, 0), mode, fill, center)
    np.testing.assert_allclose(out[1], same, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[1], images[1], rtol=1e-12, atol=1e-12, err_msg="identity")


@pytest.mark.parametrize("size", [4, 5])
def test_a_quarter_turn_is_a_clockwise_rot90(size):
    images = np.random.default_rng(0).random((1, 2, size, size)).astype(np.float32)
    params = AffineParams(np.array([90.0]), np.zeros((1, 2)), np.ones(1), np.zeros((1, 2)))
    out = RandomAffine(0).apply(images, params)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.rot90(images, k=-1, axes=(2, 3)),
                                  "a positive angle turns the picture clockwise")


def test_a_translation_shifts_right_and_down_and_fills_the_rest():
    images = np.arange(1, 26, dtype=np.float64).reshape(1, 1, 5, 5)
    params = AffineParams(np.zeros(1), np.array([[2.0, -1.0]]), np.ones(1), np.zeros((1, 2)))
    out = RandomAffine(0, fill=-7).apply(images, params)
    expected = np.full((5, 5), -7.0)
    expected[:4, 2:] = images[0, 0, 1:, :3]
    np.testing.assert_array_equal(out[0, 0], expected)


def test_the_batch_equals_a_loop_over_its_images():
    affine = RandomAffine(30, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-10, 10, -5, 5),
                          interpolation="bilinear", fill=(0.1, 0.2, 0.3))
    images = np.random.default_rng(2).random((6, 3, 7, 8))
    params = affine.draw(images, np.random.default_rng(5))
    out = affine.apply(images, params)
    for index in range(6):
        single = AffineParams(*(field[index : index + 1] for field in params))
        np.testing.assert_array_equal(out[index], affine.apply(images[index : index + 1],
                                                               single)[0])


def test_draws_stay_in_their_ranges():
    affine = RandomAffine((-20, 10), translate=(0.25, 0.5), scale=(0.9, 1.1), shear=15)
    params = affine.draw(np.zeros((4000, 1, 8, 10)), np.random.default_rng(0))
    assert params.angle.min() >= -20 and params.angle.max() <= 10
    assert params.angle.mean() == pytest.approx(-5, abs=0.5)
    tx, ty = params.translate.T
    assert np.array_equal(tx, np.round(tx)) and np.abs(tx).max() == 2.0, "whole pixels, 0.25*10"
    assert np.abs(ty).max() == 4.0, "at most 0.5 * 8"
    assert params.scale.min() >= 0.9 and params.scale.max() <= 1.1
    assert np.abs(params.shear[:, 0]).max() <= 15 and (params.shear[:, 1] == 0).all()


def test_bad_arguments_and_repr():
    with pytest.raises(ValueError, match="degrees, if a single number, must be non-negative"):
        RandomAffine(-5)
    with pytest.raises(ValueError, match=r"translate values must lie in \[0, 1\]"):
        RandomAffine(0, translate=(0.5, 1.5))
    with pytest.raises(ValueError, match="scale values must be positive"):
        RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="shear must be a number or a sequence of 2 or 4"):
        RandomAffine(0, shear=(1, 2, 3))
    with pytest.raises(ValueError, match="interpolation must be one of"):
        RandomAffine(0, interpolation="bicubic")
    assert repr(RandomAffine(10, translate=(0.1, 0.1))) == (
        "RandomAffine(degrees=[-10.0, 10.0], translate=[0.1, 0.1])")
