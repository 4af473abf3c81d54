"""Dropout and Dropout2d: train vs eval, statistics, exact scaling, mask reuse, torch parity."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.nn.dropout import Dropout, Dropout2d
from tests.helpers import assert_close


@pytest.mark.parametrize("args", [(), (0.2,), (0, True), (1,), (0.75, False)])
def test_repr_matches_torch(args):
    assert repr(Dropout(*args)) == repr(torch.nn.Dropout(*args))


@pytest.mark.parametrize("p", [-0.5, 1.5])
def test_p_outside_zero_one_raises_with_torchs_wording(p):
    with pytest.raises(ValueError) as torch_error:
        torch.nn.Dropout(p)
    with pytest.raises(ValueError, match=re.escape(f"Dropout: {torch_error.value}")):
        Dropout(p)
    assert str(torch_error.value) == f"dropout probability has to be between 0 and 1, but got {p}"


def test_bad_argument_types_raise():
    with pytest.raises(TypeError, match="Dropout: dropout probability must be a number"):
        Dropout("0.5")
    with pytest.raises(TypeError, match="Dropout: inplace must be a bool"):
        Dropout(0.5, inplace=None)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eval_is_the_identity_forward_and_backward(dtype):
    layer = Dropout(0.5).eval()
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    assert layer(x) is x, "in eval mode Dropout returns its input, as torch does"
    g = np.ones((4, 5), dtype)
    np.testing.assert_array_equal(layer.backward(g), g)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_keeps_about_one_minus_p_and_scales_exactly(p):
    layer = Dropout(p, generator=np.random.default_rng(0))
    x = np.random.default_rng(1).uniform(0.5, 1.5, (400, 250)).astype(np.float32)
    y = layer(x)
    kept = y != 0
    # The kept fraction's standard deviation is sqrt(p(1-p)/n) <= 0.0016: allow 5 of them.
    assert abs(kept.mean() - (1 - p)) < 0.008, f"kept fraction {kept.mean()} for p={p}"
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[kept], x[kept] * np.float32(1 / (1 - p)),
                                  err_msg="kept values must be scaled by exactly 1/(1-p)")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1),
       shape=st.sampled_from([(6,), (3, 7), (2, 3, 4, 4)]))
def test_backward_uses_the_forward_mask_and_matches_torch(dtype, p, seed, shape):
    rng = np.random.default_rng(seed)
    # No zeros in x, so a zero in the output marks a dropped element.
    x = (rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)
    grad_output = rng.standard_normal(shape).astype(dtype)
    layer = Dropout(p, generator=np.random.default_rng(seed + 1))
    y = layer(x)
    keep = y != 0
    grad_input = layer.backward(grad_output)
    scale = np.asarray(1 / (1 - p), dtype)
    np.testing.assert_array_equal(grad_input, grad_output * keep * scale,
                                  err_msg="the gradient must be grad_output * mask / (1 - p)")

    # torch with the same mask: inverted dropout is x * mask / (1 - p) under autograd.
    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t * torch.tensor(keep) / (1 - p)
    y_t.backward(torch.tensor(grad_output))
    rtol = 1e-10 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(grad_input, x_t.grad.numpy(), rtol=rtol)


def test_torch_layer_statistics_agree_with_ours():
    torch.manual_seed(0)
    x = np.ones((200, 200), np.float32)
    torch_kept = (torch.nn.Dropout(0.3)(torch.tensor(x)) != 0).float().mean().item()
    kept = (Dropout(0.3, generator=np.random.default_rng(0))(x) != 0).mean()
    assert abs(kept - torch_kept) < 0.01


def test_masks_repeat_with_manual_seed_and_differ_between_calls():
    x = np.ones((10, 10))
    minicnn.manual_seed(5)
    layer = Dropout(0.5)
    first, second = layer(x), layer(x)
    assert not np.array_equal(first, second), "each forward draws a new mask"
    minicnn.manual_seed(5)
    np.testing.assert_array_equal(layer(x), first)


def test_generator_attribute_is_used():
    layer = Dropout(0.5)
    layer.generator = np.random.default_rng(9)
    first = layer(np.ones(30))
    layer.generator = np.random.default_rng(9)
    np.testing.assert_array_equal(layer(np.ones(30)), first)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_p_one_gives_zeros_and_zero_gradients(dtype):
    layer = Dropout(1.0)
    y = layer(np.ones((3, 3), dtype))
    np.testing.assert_array_equal(y, 0)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(layer.backward(np.ones((3, 3), dtype)), 0)


def test_p_zero_is_the_identity_in_training():
    x = np.ones(5)
    layer = Dropout(0.0)
    assert layer(x) is x


def test_inplace_writes_into_the_input_and_backward_still_uses_the_mask():
    x = np.ones(40)
    layer = Dropout(0.5, inplace=True, generator=np.random.default_rng(0))
    y = layer(x)
    assert y is x, "inplace=True must write into and return the input, as torch does"
    np.testing.assert_array_equal(layer.backward(np.ones(40)), y)


def test_out_of_place_forward_leaves_the_input_unchanged():
    x = np.ones(40)
    Dropout(0.5)(x)
    np.testing.assert_array_equal(x, 1.0)


def test_backward_before_forward_or_twice_raises():
    layer = Dropout()
    pattern = r"^Dropout\(p=0.5, inplace=False\): backward\(\) called before forward\(\)"
    with pytest.raises(RuntimeError, match=pattern):
        layer.backward(np.ones(3))
    layer(np.ones(3))
    layer.backward(np.ones(3))
    with pytest.raises(RuntimeError, match=pattern):
        layer.backward(np.ones(3))


def test_bad_inputs_raise_naming_the_layer():
    with pytest.raises(TypeError, match=r"^Dropout\(p=0.5, inplace=False\): expected a float32"):
        Dropout()(np.ones(3, dtype=np.int32))


# ---------------------------------------------------------------------------- Dropout2d
@pytest.mark.parametrize("args", [(), (0.2,), (0, True), (1,), (0.75, False)])
def test_dropout2d_repr_matches_torch(args):
    assert repr(Dropout2d(*args)) == repr(torch.nn.Dropout2d(*args))


@pytest.mark.parametrize("p", [-0.5, 1.5])
def test_dropout2d_p_outside_zero_one_raises_with_torchs_wording(p):
    with pytest.raises(ValueError) as torch_error:
        torch.nn.Dropout2d(p)
    with pytest.raises(ValueError, match=re.escape(f"Dropout2d: {torch_error.value}")):
        Dropout2d(p)
    with pytest.raises(TypeError, match="Dropout2d: inplace must be a bool"):
        Dropout2d(0.5, inplace="no")


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout2d_drops_about_p_of_the_channels_whole_and_scales_exactly(p):
    layer = Dropout2d(p, generator=np.random.default_rng(0))
    x = np.random.default_rng(1).uniform(0.5, 1.5, (400, 250, 2, 3)).astype(np.float32)
    y = layer(x)
    kept = (y != 0).all(axis=(2, 3))
    assert np.array_equal(kept, (y != 0).any(axis=(2, 3))), "a channel is kept or zeroed whole"
    # 100,000 channels: the kept fraction's standard deviation is <= 0.0016; allow 5 of them.
    assert abs(kept.mean() - (1 - p)) < 0.008, f"kept fraction {kept.mean()} for p={p}"
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y[kept], x[kept] * np.float32(1 / (1 - p)),
                                  err_msg="kept channels must be scaled by exactly 1/(1-p)")


def test_dropout2d_keeps_as_many_channels_as_torchs():
    torch.manual_seed(0)
    x = np.ones((200, 100, 2, 2), np.float32)
    torch_kept = (torch.nn.Dropout2d(0.3)(torch.tensor(x)) != 0).float().mean().item()
    kept = (Dropout2d(0.3, generator=np.random.default_rng(0))(x) != 0).mean()
    assert abs(kept - torch_kept) < 0.015  # 20,000 channels each: sd of the difference 0.005


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1),
       shape=st.sampled_from([(2, 3, 4, 4), (1, 5, 2, 3), (3, 2, 2)]))
def test_dropout2d_backward_uses_the_forward_mask_and_matches_torch(dtype, p, seed, shape):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)
    grad_output = rng.standard_normal(shape).astype(dtype)
    layer = Dropout2d(p, generator=np.random.default_rng(seed + 1))
    y = layer(x)
    keep = (y != 0).all(axis=(-2, -1), keepdims=True)  # x has no zeros: 0 means dropped
    grad_input = layer.backward(grad_output)
    np.testing.assert_array_equal(grad_input, grad_output * keep * np.asarray(1 / (1 - p), dtype),
                                  err_msg="the gradient must be grad_output * mask / (1 - p)")
    # torch with the same channel mask: x * mask / (1 - p) under autograd.
    x_t = torch.tensor(x, requires_grad=True)
    y_t = x_t * torch.tensor(keep) / (1 - p)
    y_t.backward(torch.tensor(grad_output))
    assert_close(y, y_t, dtype, "output")
    assert_close(grad_input, x_t.grad, dtype, "grad_input")


def test_dropout2d_unbatched_input_drops_whole_channels():
    y = Dropout2d(0.5, generator=np.random.default_rng(0))(np.ones((40, 3, 3)))
    per_channel = y.reshape(40, -1)
    assert set(np.unique(per_channel.min(axis=1))) == {0.0, 2.0}
    np.testing.assert_array_equal(per_channel.min(axis=1), per_channel.max(axis=1))


def test_dropout2d_gradients_agree_with_finite_differences_in_training():
    report = minicnn.gradcheck(Dropout2d(0.4), np.random.default_rng(0).standard_normal(
        (3, 4, 2, 2)))
    assert report.passed, str(report)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout2d_eval_is_the_identity_and_p_one_zeros_everything(dtype):
    x = np.ones((2, 3, 2, 2), dtype)
    layer = Dropout2d(0.5).eval()
    assert layer(x) is x
    np.testing.assert_array_equal(layer.backward(x), x)
    layer = Dropout2d(1.0)
    y = layer(x)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(y, 0)
    np.testing.assert_array_equal(layer.backward(x), 0)


def test_dropout2d_inplace_and_generator_and_manual_seed():
    x = np.ones((6, 5, 2, 2))
    layer = Dropout2d(0.5, inplace=True, generator=np.random.default_rng(3))
    y = layer(x)
    assert y is x
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), y)
    minicnn.manual_seed(5)
    first = Dropout2d()(np.ones((10, 10, 1, 1)))
    minicnn.manual_seed(5)
    np.testing.assert_array_equal(Dropout2d()(np.ones((10, 10, 1, 1))), first)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2, 2)])
def test_dropout2d_other_ranks_warn_as_torch_and_drop_per_sample_and_channel(shape):
    with pytest.warns(UserWarning) as torch_record:
        torch.nn.Dropout2d(0.5)(torch.ones(shape))
    layer = Dropout2d(0.5, generator=np.random.default_rng(0))
    with pytest.warns(UserWarning) as record:
        y = layer(np.ones(shape))
    assert str(record[0].message) == f"{layer!r}: " + str(torch_record[0].message).split(
        ": ", 1)[1]
    assert record[0].filename == __file__, "the warning points at the caller's line"
    per_channel = y.reshape(shape[0], shape[1], -1)
    np.testing.assert_array_equal(per_channel.min(axis=2), per_channel.max(axis=2))


def test_dropout2d_without_a_channel_axis_raises_naming_the_layer():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"^Dropout2d\(p=0.5, inplace=False\): Feature "
                                             r"dropout requires at least 2 dimensions"):
            Dropout2d()(np.ones(5))
        assert Dropout2d().eval()(np.ones(5)).shape == (5,)


def test_dropout2d_backward_before_forward_and_bad_input_raise():
    layer = Dropout2d()
    with pytest.raises(RuntimeError, match=r"^Dropout2d\(p=0.5, inplace=False\): backward\(\) "
                                           r"called before forward\(\)"):
        layer.backward(np.ones((1, 1, 2, 2)))
    with pytest.raises(TypeError, match=r"^Dropout2d\(p=0.5, inplace=False\): expected a float32"):
        layer(np.ones((1, 1, 2, 2), dtype=np.int32))
