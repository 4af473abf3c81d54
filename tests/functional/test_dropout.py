"""minicnn.functional.dropout and dropout2d: statistics, exact scaling, mask reuse, torch parity."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.functional.dropout import (
    apply_dropout_mask,
    check_dropout_p,
    dropout,
    dropout2d,
    dropout2d_backward,
    dropout2d_mask,
    dropout_backward,
    dropout_mask,
)
from tests.helpers import assert_close

DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_mask_keeps_about_one_minus_p(p):
    keep = dropout_mask((200_000,), p, np.random.default_rng(0))
    assert keep.dtype == np.bool_
    # Binomial standard deviation of the kept fraction is sqrt(p(1-p)/n) <= 0.0012; allow 5 sd.
    assert abs(keep.mean() - (1 - p)) < 0.006, f"kept fraction {keep.mean()} for p={p}"


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=40, deadline=None)
@given(p=st.floats(0.0, 0.95), seed=st.integers(0, 2**32 - 1),
       shape=st.sampled_from([(7,), (3, 4), (2, 3, 2, 2)]))
def test_kept_values_are_scaled_exactly_and_the_rest_zeroed(dtype, p, seed, shape):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    keep = dropout_mask(shape, p, np.random.default_rng(seed + 1))
    out = apply_dropout_mask(x, keep, p)
    assert out.dtype == np.dtype(dtype), "dropout must keep the input's dtype"
    scale = np.asarray(1 / (1 - p), dtype=dtype)
    np.testing.assert_array_equal(out[keep], x[keep] * scale)
    np.testing.assert_array_equal(out[~keep], 0)
    grad_output = np.random.default_rng(seed + 2).standard_normal(shape).astype(dtype)
    grad_input = dropout_backward(grad_output, keep, p)
    np.testing.assert_array_equal(grad_input, grad_output * keep * scale,
                                  err_msg="the gradient is grad_output * mask / (1 - p)")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_torch_mask_reproduced_gives_torch_output_and_gradient(dtype, p):
    # torch cannot share our generator, so take torch's mask from its output and apply it here.
    torch.manual_seed(0)
    x = np.random.default_rng(1).uniform(0.5, 2.0, (6, 5)) * np.sign(
        np.random.default_rng(2).standard_normal((6, 5)))
    x = x.astype(dtype)
    grad_output = np.random.default_rng(3).standard_normal((6, 5)).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = TF.dropout(x_t, p, training=True)
    y_t.backward(torch.tensor(grad_output))
    keep = y_t.detach().numpy() != 0  # x has no zeros, so a zero output means dropped
    rtol = 1e-10 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(apply_dropout_mask(x, keep, p), y_t.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(dropout_backward(grad_output, keep, p), x_t.grad.numpy(),
                               rtol=rtol)


def test_dropout_is_the_identity_outside_training_and_for_p_zero():
    x = np.arange(6.0).reshape(2, 3)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0, training=True) is x


@pytest.mark.parametrize("dtype", DTYPES)
def test_p_one_gives_zeros(dtype):
    x = np.ones((3, 4), dtype=dtype)
    out = dropout(x, 1.0)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, 0)
    np.testing.assert_array_equal(dropout_backward(np.ones_like(x), np.zeros(x.shape, bool), 1),
                                  0)


def test_seeded_generators_repeat():
    x = np.ones(50)
    first = dropout(x, 0.5, generator=np.random.default_rng(7))
    second = dropout(x, 0.5, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)
    minicnn.manual_seed(3)
    from_default = dropout(x, 0.5)
    minicnn.manual_seed(3)
    np.testing.assert_array_equal(dropout(x, 0.5), from_default,
                                  err_msg="manual_seed must make the default generator repeat")


def test_inplace_writes_into_the_input():
    x = np.ones(20)
    out = dropout(x, 0.5, inplace=True, generator=np.random.default_rng(0))
    assert out is x, "inplace dropout must return the input array"
    assert set(np.unique(x)) <= {0.0, 2.0}


def test_out_of_place_dropout_leaves_the_input_unchanged():
    x = np.ones(20)
    dropout(x, 0.5, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(x, 1.0)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_p_outside_zero_one_is_rejected_with_torch_wording(p):
    with pytest.raises(ValueError) as torch_error:
        TF.dropout(torch.zeros(2), p)
    with pytest.raises(ValueError, match=re.escape(f"dropout: {torch_error.value}")):
        dropout(np.zeros(2), p)


@pytest.mark.parametrize("p", ["0.5", None, True])
def test_p_must_be_a_number(p):
    with pytest.raises(TypeError, match="Dropout: dropout probability must be a number"):
        check_dropout_p(p, "Dropout")


# ---------------------------------------------------------------------------- dropout2d
@pytest.mark.parametrize(("shape", "mask_shape"), [
    ((2, 3, 4, 5), (2, 3, 1, 1)),  # (N, C, H, W)
    ((3, 4, 5), (3, 1, 1)),  # unbatched (C, H, W)
    ((2, 3), (2, 3)),  # other ranks: (N, C, *), as torch
    ((2, 3, 2, 2, 2), (2, 3, 1, 1, 1)),
])
def test_dropout2d_mask_has_one_entry_per_channel(shape, mask_shape):
    keep = dropout2d_mask(shape, 0.5, np.random.default_rng(0))
    assert keep.shape == mask_shape and keep.dtype == np.bool_


def test_dropout2d_mask_keeps_about_one_minus_p_of_the_channels():
    keep = dropout2d_mask((1000, 200, 3, 3), 0.3, np.random.default_rng(0))
    # 200,000 channels: the kept fraction's standard deviation is about 0.001; allow 5.
    assert abs(keep.mean() - 0.7) < 0.005, f"kept fraction {keep.mean()}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout2d_with_torchs_mask_gives_torchs_output_and_gradient(dtype, p):
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    x = (rng.uniform(0.5, 2.0, (4, 6, 3, 2)) * rng.choice([-1.0, 1.0], (4, 6, 3, 2)))
    x = x.astype(dtype)
    grad_output = rng.standard_normal(x.shape).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = TF.dropout2d(x_t, p, training=True)
    y_t.backward(torch.tensor(grad_output))
    dropped = y_t.detach().numpy() == 0  # x has no zeros: a zero output was dropped
    assert np.all(dropped == dropped[:, :, :1, :1]), "torch drops whole channels"
    keep = ~dropped[:, :, :1, :1]
    assert_close(apply_dropout_mask(x, keep, p), y_t, dtype, "output with torch's mask")
    assert_close(dropout2d_backward(grad_output, keep, p), x_t.grad, dtype,
                 "gradient with torch's mask")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout2d_zeros_or_scales_whole_channels(dtype):
    x = np.random.default_rng(0).uniform(1, 2, (8, 5, 3, 3)).astype(dtype)
    y = dropout2d(x, 0.4, generator=np.random.default_rng(1))
    assert y.dtype == np.dtype(dtype)
    kept = (y != 0).all(axis=(2, 3))
    assert np.array_equal(kept, (y != 0).any(axis=(2, 3))), "a channel is all kept or all zero"
    np.testing.assert_array_equal(y[kept], x[kept] * np.asarray(1 / 0.6, dtype))


def test_dropout2d_is_the_identity_outside_training_and_for_p_zero():
    x = np.ones((2, 3, 2, 2))
    assert dropout2d(x, 0.5, training=False) is x
    assert dropout2d(x, 0.0) is x
    np.testing.assert_array_equal(dropout2d(x, 1.0), 0)


@pytest.mark.parametrize("shape", [(2, 3), (1, 2, 3, 4, 5), (5,)])
def test_dropout2d_warns_as_torch_for_other_ranks(shape):
    with pytest.warns(UserWarning) as torch_record:
        TF.dropout2d(torch.ones(shape), 0.5, training=False)
    with pytest.warns(UserWarning) as record:
        dropout2d(np.ones(shape), 0.5, training=False)
    assert str(record[0].message) == str(torch_record[0].message)
    assert record[0].filename == __file__, "the warning points at the caller's line"


def test_dropout2d_without_a_channel_axis_raises_in_training():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about the rank first
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
            TF.dropout2d(torch.ones(5), 0.5)
        with pytest.raises(ValueError, match=r"dropout2d: Feature dropout requires at least 2 "
                                             r"dimensions in the input, got shape \(5,\)"):
            dropout2d(np.ones(5), 0.5)
        np.testing.assert_array_equal(dropout2d(np.ones(5), 1.0), 0)  # as torch: all dropped


def test_dropout2d_inplace_writes_into_the_input():
    x = np.ones((3, 4, 2, 2))
    assert dropout2d(x, 0.5, inplace=True, generator=np.random.default_rng(0)) is x
    assert set(np.unique(x)) <= {0.0, 2.0}
