"""minicnn.data.transforms: Normalize matches the formula on single images and batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.data.transforms import Compose, Lambda, Normalize


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 4),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32),
)
def test_normalize_matches_torch_per_channel(batch, channels, dtype, seed):
    rng = np.random.default_rng(seed)
    images = rng.random((batch, channels, 5, 4)).astype(dtype)
    mean = rng.random(channels).tolist()
    std = (rng.random(channels) + 0.1).tolist()
    normalize = Normalize(mean, std)
    ours = normalize(images)
    # torch as the oracle for the broadcasting: the statistics as (C, 1, 1) in the input dtype.
    torch_images = torch.from_numpy(images)
    torch_mean = torch.tensor(mean, dtype=torch_images.dtype).view(-1, 1, 1)
    torch_std = torch.tensor(std, dtype=torch_images.dtype).view(-1, 1, 1)
    theirs = ((torch_images - torch_mean) / torch_std).numpy()
    assert ours.dtype == dtype, "Normalize must keep the input dtype"
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(normalize(images[0]), ours[0], rtol=rtol, atol=rtol)


def test_one_number_applies_to_every_channel():
    images = np.full((2, 3, 2, 2), 0.5, dtype=np.float32)
    out = Normalize(0.25, 0.5)(images)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.full_like(images, 0.5))


def test_normalize_does_not_modify_its_input():
    images = np.ones((1, 1, 2, 2))
    Normalize(0.5, 0.5)(images)
    np.testing.assert_array_equal(images, 1.0)


def test_normalize_refuses_bad_statistics_and_inputs():
    with pytest.raises(ValueError, match="std must be strictly positive"):
        Normalize(0.0, [1.0, 0.0])
    with pytest.raises(ValueError, match="mean has 2 channels but std has 3"):
        Normalize([0.1, 0.2], [1.0, 1.0, 1.0])
    normalize = Normalize([0.1, 0.2], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"expected images with 2 channels \(axis -3\), got 3"):
        normalize(np.zeros((4, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"expected float images .* dtype uint8"):
        normalize(np.zeros((2, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(2, 2\)"):
        normalize(np.zeros((2, 2)))


def test_compose_applies_in_order_and_prints_its_parts():
    pipeline = Compose([Lambda(lambda x: x * 2), Normalize(1.0, 2.0)])
    out = pipeline(np.ones((1, 1, 1, 1)))
    assert out.item() == 0.5, "(1 * 2 - 1) / 2"
    assert repr(pipeline).endswith("    Normalize(mean=1, std=2)\n)")
    assert repr(Normalize([0.5, 0.25], [1.0, 2.0])) == (
        "Normalize(mean=[0.5, 0.25], std=[1.0, 2.0])"
    )
    with pytest.raises(TypeError, match="every transform must be callable, got int"):
        Compose([3])
    with pytest.raises(TypeError, match="Lambda: expected a callable, got str"):
        Lambda("x")
