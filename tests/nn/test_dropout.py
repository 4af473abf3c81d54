"""Dropout layer: train vs eval, statistics, exact scaling, mask reuse in backward, torch parity."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.nn.dropout import Dropout


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
