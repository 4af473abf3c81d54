"""minicnn.kernels.loss (softmax cross-entropy) against the NumPy reference and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.functional import loss as reference
from minicnn.kernels import loss as kernels
from tests.helpers import assert_close


@settings(max_examples=40, deadline=None)
@given(samples=st.integers(0, 6), classes=st.integers(1, 5),
       reduction=st.sampled_from(["mean", "sum", "none"]),
       ignore=st.booleans(), dtype=st.sampled_from([np.float64, np.float32]),
       seed=st.integers(0, 2**16))
def test_cross_entropy_matches_reference_and_torch(samples, classes, reduction, ignore, dtype,
                                                    seed):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((samples, classes)) * 5).astype(dtype)
    target = rng.integers(0, classes, samples)
    ignore_index = int(target[0]) if ignore and samples else -100
    args = (None, ignore_index, reduction, 0.0)
    loss = kernels._cross_entropy("cross_entropy", logits, target, *args)
    loss_ref = reference._cross_entropy("cross_entropy", logits, target, *args)
    logits_torch = torch.tensor(logits, requires_grad=True)
    loss_torch = torch.nn.functional.cross_entropy(logits_torch, torch.tensor(target),
                                                   ignore_index=ignore_index,
                                                   reduction=reduction)
    grad_output = (np.asarray(1.5, dtype) if reduction != "none"
                   else rng.standard_normal(samples).astype(dtype))
    loss_torch.backward(torch.tensor(grad_output))
    assert np.asarray(loss).dtype == dtype, "float32 in must give a float32 loss"
    assert_close(np.asarray(loss), np.asarray(loss_ref), dtype, "loss vs reference")
    assert_close(np.asarray(loss), loss_torch.detach().numpy(), dtype, "loss vs torch")
    grad = kernels._cross_entropy_backward("cross_entropy", grad_output, logits, target, *args)
    grad_ref = reference._cross_entropy_backward("cross_entropy", grad_output, logits, target,
                                                 *args)
    assert_close(grad, grad_ref, dtype, "input gradient vs reference")
    assert_close(grad, logits_torch.grad.numpy(), dtype, "input gradient vs torch")


@pytest.mark.parametrize("options", [
    {"weight": np.array([1.0, 2.0, 0.5])},
    {"label_smoothing": 0.1},
    {"target": "probabilities"},
])
def test_other_forms_fall_back_to_the_reference(options):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3))
    target = rng.integers(0, 3, 4)
    if options.get("target") == "probabilities":
        target = rng.dirichlet(np.ones(3), 4)
    args = (options.get("weight"), -100, "mean", options.get("label_smoothing", 0.0))
    np.testing.assert_array_equal(kernels._cross_entropy("ce", logits, target, *args),
                                  reference._cross_entropy("ce", logits, target, *args))
    np.testing.assert_array_equal(
        kernels._cross_entropy_backward("ce", np.asarray(1.0), logits, target, *args),
        reference._cross_entropy_backward("ce", np.asarray(1.0), logits, target, *args))


def test_out_of_range_target_raises_the_reference_error():
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="CrossEntropyLoss\\(\\): Target 3 is out of bounds"):
        kernels._cross_entropy("CrossEntropyLoss()", logits, np.array([0, 3]), None, -100,
                               "mean", 0.0)
    with pytest.raises(ValueError, match="Target -1 is out of bounds"):
        kernels._cross_entropy_backward("ce", np.asarray(1.0, np.float32), logits,
                                        np.array([-1, 0]), None, -100, "mean", 0.0)


@settings(max_examples=40, deadline=None)
@given(samples=st.integers(1, 40), classes=st.integers(1, 12),
       reduction=st.sampled_from(["mean", "sum"]),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 2**16))
def test_the_training_steps_shortcut_gives_the_general_paths_bits(samples, classes, reduction,
                                                                  dtype, seed):
    # A 0-d grad_output of the logits' dtype with no ignored sample takes a shortcut; a
    # Python float of the same value takes the general path: the same bits either way.
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((samples, classes)) * 5).astype(dtype)
    target = rng.integers(0, classes, samples)
    args = (None, -100, reduction, 0.0)
    shortcut = kernels._cross_entropy_backward("cross_entropy", np.asarray(1.5, dtype), logits,
                                               target, *args)
    general = kernels._cross_entropy_backward("cross_entropy", 1.5, logits, target, *args)
    np.testing.assert_array_equal(shortcut, general)
