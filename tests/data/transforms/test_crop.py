"""RandomCrop: each image is the window at its drawn offset of the padded image (torchvision's
semantics), padding as torch pads, offsets uniform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data.transforms import RandomCrop
from minicnn.data.transforms.crop import pad_images

TORCH_MODES = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}


def naive_pad(image: np.ndarray, sides, fill, mode: str) -> np.ndarray:
    """One ``(C, H, W)`` image padded by ``(left, top, right, bottom)``: torch's F.pad for the
    modes it has, NumPy's "symmetric" (edge pixel repeated) for the one it lacks, and the
    constant filled channel by channel."""
    left, top, right, bottom = sides
    if mode == "symmetric":
        return np.pad(image, ((0, 0), (top, bottom), (left, right)), mode="symmetric")
    fills = np.broadcast_to(np.asarray(fill, dtype=np.float64).reshape(-1), (len(image),))
    channels = []
    for channel, value in zip(image, fills):
        tensor = torch.from_numpy(np.ascontiguousarray(channel))[None, None]
        options = {"value": float(value)} if mode == "constant" else {}
        padded = F.pad(tensor, (left, right, top, bottom), mode=TORCH_MODES[mode], **options)
        channels.append(padded[0, 0].numpy())
    return np.stack(channels)


def sides_of(padding) -> tuple[int, int, int, int]:
    if padding is None:
        return (0, 0, 0, 0)
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    return tuple(padding)


def naive_crop(transform: RandomCrop, images: np.ndarray, params) -> np.ndarray:
    """torchvision's RandomCrop.forward, one image at a time, at the drawn offsets."""
    out = []
    for image, top, left in zip(images, params.top, params.left):
        image = naive_pad(image, sides_of(transform.padding), transform.fill,
                          transform.padding_mode)
        if transform.pad_if_needed and image.shape[2] < transform.size[1]:
            extra = transform.size[1] - image.shape[2]
            image = naive_pad(image, (extra, 0, extra, 0), transform.fill, transform.padding_mode)
        if transform.pad_if_needed and image.shape[1] < transform.size[0]:
            extra = transform.size[0] - image.shape[1]
            image = naive_pad(image, (0, extra, 0, extra), transform.fill, transform.padding_mode)
        out.append(image[:, top : top + transform.size[0], left : left + transform.size[1]])
    return np.stack(out)


@st.composite
def crops(draw):
    height, width = draw(st.integers(2, 9)), draw(st.integers(2, 9))
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric"]))
    limit = min(height, width) - (1 if mode == "reflect" else 0)
    side = st.integers(0, min(limit, 3))
    padding = draw(st.one_of(st.none(), side, st.tuples(side, side),
                             st.tuples(side, side, side, side)))
    pad_if_needed = draw(st.booleans())
    channels = draw(st.integers(1, 3))
    fill = draw(st.one_of(st.floats(-2, 2), st.lists(st.floats(-2, 2), min_size=channels,
                                                     max_size=channels)))
    left, top, right, bottom = sides_of(padding)
    padded_height, padded_width = height + top + bottom, width + left + right
    if pad_if_needed and mode in ("reflect", "symmetric"):
        # The extra padding is at most the padded size (less one for reflect), as torch needs.
        room = 0 if mode == "symmetric" else 1
        size = (draw(st.integers(1, 2 * padded_height - room)),
                draw(st.integers(1, 2 * padded_width - room)))
    elif pad_if_needed:
        size = (draw(st.integers(1, padded_height + 4)), draw(st.integers(1, padded_width + 4)))
    else:
        size = (draw(st.integers(1, padded_height)), draw(st.integers(1, padded_width)))
    transform = RandomCrop(size, padding=padding, pad_if_needed=pad_if_needed, fill=fill,
                           padding_mode=mode)
    return transform, (draw(st.integers(1, 4)), channels, height, width)


@settings(max_examples=150, deadline=None)
@given(case=crops(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**32 - 1))
def test_each_image_is_its_window_of_the_padded_image(case, dtype, seed):
    transform, shape = case
    rng = np.random.default_rng(seed)
    images = rng.standard_normal(shape).astype(dtype)
    original = images.copy()
    params = transform.draw(images, rng)
    out = transform.apply(images, params)
    expected = naive_crop(transform, images.astype(np.float64), params)
    assert out.dtype == dtype, "the crop keeps the dtype"
    assert out.shape == (shape[0], shape[1], *transform.size)
    # Padding copies values (and the fill, cast to the dtype): equal, bit for bit.
    np.testing.assert_array_equal(out, expected.astype(dtype))
    np.testing.assert_array_equal(images, original, "the input is not written")
    # Called whole, with a generator in the same state, the transform draws the same.
    again = transform(images, np.random.default_rng(seed + 1))
    np.testing.assert_array_equal(
        again, transform.apply(images, transform.draw(images, np.random.default_rng(seed + 1))))


def test_padding_four_then_the_centre_window_is_the_image_itself():
    images = np.random.default_rng(0).random((2, 3, 32, 32)).astype(np.float32)
    crop = RandomCrop(32, padding=4)
    params = crop.draw(images, np.random.default_rng(0))
    params = params._replace(top=np.array([4, 0]), left=np.array([4, 8]))
    out = crop.apply(images, params)
    np.testing.assert_array_equal(out[0], images[0], "offset (4, 4) of the 40x40 padding")
    # Offset (0, 8): padded rows 0-31 (4 of padding, then image rows 0-27) and padded columns
    # 8-39 (image columns 4-31, then 4 of padding).
    np.testing.assert_array_equal(out[1, :, 4:, :28], images[1, :, :28, 4:])
    assert (out[1, :, :4] == 0).all() and (out[1, :, :, 28:] == 0).all(), "zero padding"


def test_offsets_are_uniform_over_every_place_the_window_fits():
    crop = RandomCrop(32, padding=4)
    params = crop.draw(np.zeros((18000, 3, 32, 32), np.float32), np.random.default_rng(1))
    for offsets in (params.top, params.left):
        counts = np.bincount(offsets, minlength=9)
        assert len(counts) == 9, "offsets 0 to 8 of a 40-pixel side"
        # 2,000 expected each; the standard deviation of a count is about 42.
        assert counts.min() > 1800 and counts.max() < 2200, counts


def test_single_images_batches_and_leading_axes():
    images = np.random.default_rng(0).random((2, 3, 1, 6, 6))
    crop = RandomCrop((3, 4), padding=(1, 2))
    assert crop(images, np.random.default_rng(0)).shape == (2, 3, 1, 3, 4)
    assert crop(images[0, 0], np.random.default_rng(0)).shape == (1, 3, 4)


def test_pad_images_per_channel_fill():
    images = np.zeros((1, 2, 1, 1), np.float32)
    out = pad_images(images, (1, 0, 0, 0), fill=(3, 5))
    np.testing.assert_array_equal(out[0, :, 0, 0], [3, 5])


def test_bad_arguments_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="size must be a positive int"):
        RandomCrop(0)
    with pytest.raises(ValueError, match="padding must be a non-negative int or a sequence of "
                                         "1, 2 or 4"):
        RandomCrop(4, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        RandomCrop(4, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"the crop 8x8 is larger than the \(padded\) image 6x6"):
        RandomCrop(8, padding=1)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"reflect padding .* too large for 4x4 images"):
        RandomCrop(4, padding=4, padding_mode="reflect")(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="fill has 2 values, but the images have 3 channels"):
        RandomCrop(4, padding=1, fill=(1, 2))(np.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"expected float images .* dtype uint8"):
        RandomCrop(4)(np.zeros((1, 3, 4, 4), np.uint8))
    with pytest.raises(TypeError, match="generator must be None, an int seed or a numpy"):
        RandomCrop(4)(np.zeros((1, 3, 4, 4)), generator="seed")


def test_repr_shows_what_differs_from_the_defaults():
    assert repr(RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"
    assert repr(RandomCrop((3, 4), pad_if_needed=True, fill=1, padding_mode="edge")) == (
        "RandomCrop(size=(3, 4), pad_if_needed=True, fill=1, padding_mode='edge')")
