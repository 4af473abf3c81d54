"""batch_norm and group_norm, and their backwards, against torch.nn.functional and autograd."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.functional.normalization import (
    batch_norm,
    batch_norm_backward,
    batch_norm_backward_from_sums,
    batch_norm_forward,
    batch_norm_grad_sums,
    batch_norm_statistics,
    combine_batch_statistics,
    group_norm,
    group_norm_backward,
    group_norm_forward,
)
from tests.helpers import assert_close

DTYPES = (np.float64, np.float32)


@st.composite
def batch_norm_cases(draw):
    """An input shape (N, C), (N, C, L) or (N, C, H, W), its dtype, and every option."""
    ndim = draw(st.sampled_from((2, 3, 4)))
    batch = draw(st.integers(1, 5))
    channels = draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(ndim - 2))
    training = draw(st.booleans())
    if training and batch * int(np.prod(spatial)) < 2:
        batch = 2  # a training batch needs two values per channel
    return {
        "shape": (batch, channels, *spatial),
        "dtype": draw(st.sampled_from(DTYPES)),
        "training": training,
        "with_running_stats": (not training) or draw(st.booleans()),
        "with_weight": draw(st.booleans()),
        "with_bias": draw(st.booleans()),
        "momentum": draw(st.sampled_from((0.0, 0.1, 1.0)) | st.floats(0.0, 1.0)),
        "eps": draw(st.sampled_from((1e-5, 1e-3, 0.5))),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@settings(max_examples=40, deadline=None)
@given(batch_norm_cases())
def test_forward_backward_and_running_stats_match_torch(case):
    rng = np.random.default_rng(case["seed"])
    dtype, shape, training = case["dtype"], case["shape"], case["training"]
    channels = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    weight = rng.uniform(0.5, 1.5, channels).astype(dtype) if case["with_weight"] else None
    bias = rng.standard_normal(channels).astype(dtype) if case["with_bias"] else None
    running_mean = running_var = None
    if case["with_running_stats"]:
        running_mean = rng.standard_normal(channels).astype(dtype)
        running_var = rng.uniform(0.5, 2.0, channels).astype(dtype)
    grad_output = rng.standard_normal(shape).astype(dtype)
    x_before, grad_output_before = x.copy(), grad_output.copy()

    # torch always gets a weight and a bias (ones and zeros when ours has none): the output is
    # the same, and autograd then gives the grad_weight/grad_bias ours returns regardless.
    x_t = torch.tensor(x, requires_grad=True)
    weight_t = torch.tensor(np.ones(channels, dtype) if weight is None else weight,
                            requires_grad=True)
    bias_t = torch.tensor(np.zeros(channels, dtype) if bias is None else bias,
                          requires_grad=True)
    running_mean_t = None if running_mean is None else torch.tensor(running_mean)
    running_var_t = None if running_var is None else torch.tensor(running_var)
    expected = F.batch_norm(x_t, running_mean_t, running_var_t, weight_t, bias_t, training,
                            case["momentum"], case["eps"])
    expected.backward(torch.tensor(grad_output))

    output, x_hat, inv_std = batch_norm_forward(
        x, running_mean, running_var, weight, bias, training, case["momentum"], case["eps"]
    )
    assert_close(output, expected, dtype, "output", relative_to="tensor", atol=0.0)
    assert x_hat.dtype == dtype and inv_std.dtype == dtype and inv_std.shape == (channels,)
    if running_mean is not None:
        assert_close(running_mean, running_mean_t, dtype, "running_mean after the call",
                     relative_to="tensor", atol=0.0)
        assert_close(running_var, running_var_t, dtype, "running_var after the call",
                     relative_to="tensor", atol=0.0)

    grad_input, grad_weight, grad_bias = batch_norm_backward(
        grad_output, x_hat, inv_std, weight, training
    )
    # grad_input = weight * inv_std * (g - mean(g) - x_hat * mean(g * x_hat)) can cancel to
    # almost nothing (two values per channel give x_hat = +-1 nearly exactly).
    terms_scale = float(np.abs(weight_t.detach().numpy() * inv_std).max()
                        * np.abs(grad_output).max() * (1 + np.abs(x_hat).max()))
    assert_close(grad_input, x_t.grad, dtype, "grad_input", scale=terms_scale)
    assert_close(grad_weight, weight_t.grad, dtype, "grad_weight", relative_to="tensor", atol=0.0)
    assert_close(grad_bias, bias_t.grad, dtype, "grad_bias", relative_to="tensor", atol=0.0)
    np.testing.assert_array_equal(x, x_before, err_msg="the input was modified")
    np.testing.assert_array_equal(grad_output, grad_output_before,
                                  err_msg="grad_output was modified")


def test_batch_norm_returns_the_forward_output():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 4))
    expected, _, _ = batch_norm_forward(x, None, None, training=True)
    np.testing.assert_array_equal(batch_norm(x, None, None, training=True), expected)


def staged_training_backward(grad_output, x, weight, eps):
    """The training-mode backward the long way: one chain-rule step per node of the graph.

    The graph is ``mean -> centered -> var -> inv_std -> x_hat -> y``; this twin walks it
    backwards, node by node, and must agree with the compact formula.
    """
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    count = x.size // x.shape[1]
    mean = x.mean(axis=axes).reshape(shape)
    centered = x - mean
    var = (centered**2).mean(axis=axes).reshape(shape)
    std = np.sqrt(var + eps)
    inv_std = 1 / std
    x_hat = centered * inv_std

    grad_x_hat = grad_output * weight.reshape(shape)
    grad_inv_std = (grad_x_hat * centered).sum(axis=axes).reshape(shape)
    grad_centered = grad_x_hat * inv_std
    grad_std = -grad_inv_std / std**2
    grad_var = grad_std / (2 * std)
    grad_centered = grad_centered + grad_var * 2 * centered / count
    grad_mean = -grad_centered.sum(axis=axes).reshape(shape)
    grad_input = grad_centered + grad_mean / count
    return grad_input, (grad_output * x_hat).sum(axis=axes), grad_output.sum(axis=axes)


@settings(max_examples=30, deadline=None)
@given(ndim=st.sampled_from((2, 3, 4)), batch=st.integers(2, 5), channels=st.integers(1, 4),
       spatial=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_compact_training_backward_equals_the_staged_chain_rule(ndim, batch, channels, spatial,
                                                                 seed):
    rng = np.random.default_rng(seed)
    shape = (batch, channels) + (spatial,) * (ndim - 2)
    x = rng.standard_normal(shape)
    weight = rng.uniform(0.5, 1.5, channels)
    grad_output = rng.standard_normal(shape)
    _, x_hat, inv_std = batch_norm_forward(x, None, None, weight, training=True, eps=1e-3)
    compact = batch_norm_backward(grad_output, x_hat, inv_std, weight, training=True)
    staged = staged_training_backward(grad_output, x, weight, eps=1e-3)
    for name, actual, expected in zip(("grad_input", "grad_weight", "grad_bias"), compact,
                                      staged):
        assert_close(actual, expected, np.float64, name, relative_to="tensor", atol=0.0)


def test_training_updates_the_given_running_stats_in_place_with_the_unbiased_variance():
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])
    running_mean, running_var = np.zeros(2), np.ones(2)
    batch_norm(x, running_mean, running_var, training=True, momentum=1.0)
    np.testing.assert_allclose(running_mean, [3.0, 30.0])
    np.testing.assert_allclose(running_var, x.var(axis=0, ddof=1))


def test_evaluation_leaves_the_running_stats_alone():
    x = np.random.default_rng(1).standard_normal((4, 3, 5))
    running_mean, running_var = np.full(3, 0.5), np.full(3, 2.0)
    batch_norm(x, running_mean, running_var, training=False)
    np.testing.assert_array_equal(running_mean, 0.5)
    np.testing.assert_array_equal(running_var, 2.0)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_single_value_per_channel_in_training_raises_like_torch(shape):
    x = np.zeros(shape)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(torch.tensor(x), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel "
                                         r"when training, got input size \(1, 3"):
        batch_norm(x, None, None, training=True)


def test_evaluation_of_a_single_value_per_channel_is_allowed():
    output = batch_norm(np.array([[1.0, 2.0]]), np.zeros(2), np.ones(2), training=False, eps=0.0)
    np.testing.assert_array_equal(output, [[1.0, 2.0]])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"x": [[1.0, 2.0]]}, TypeError, "expected a numpy.ndarray input"),
        ({"x": np.zeros((2, 3), np.int64)}, TypeError, "float32 or float64 input"),
        ({"x": np.zeros(3)}, ValueError, "at least 2 dimensions"),
        ({"running_mean": None}, ValueError, "required when training=False"),
        ({"weight": np.ones(4)}, ValueError, r"weight of shape \(3,\)"),
        ({"bias": np.ones(3, np.float32)}, TypeError, "bias has dtype float32"),
        ({"running_var": [1.0, 1.0, 1.0]}, TypeError, "running_var as a numpy.ndarray"),
        ({"training": True, "eps": 0.0}, ValueError, "eps must be positive during training"),
        ({"eps": -1e-5}, ValueError, "eps must be non-negative"),
        ({"training": True, "momentum": None}, TypeError, "momentum must be a number, got None"),
    ],
)
def test_bad_arguments_raise_sentences(kwargs, error, message):
    arguments = {"x": np.zeros((2, 3)), "running_mean": np.zeros(3), "running_var": np.ones(3)}
    arguments.update(kwargs)
    with pytest.raises(error, match=f"batch_norm: .*{message}"):
        batch_norm(**arguments)


def test_backward_refuses_a_grad_output_of_another_shape():
    _, x_hat, inv_std = batch_norm_forward(np.ones((2, 3)), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm_backward: expected grad_output of shape "
                                         r"\(2, 3\).*got \(3, 2\)"):
        batch_norm_backward(np.ones((3, 2)), x_hat, inv_std, training=True)


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(0, 5), min_size=1, max_size=5),
       spatial=st.sampled_from([(), (3,), (2, 2)]), offset=st.sampled_from([0.0, 1e3]))
def test_combined_statistics_of_parts_are_the_whole_batchs(sizes, spatial, offset):
    """Chan's pairwise combination of each part's (count, mean, M2) gives the statistics of
    the whole batch, also for data far from zero (where sum x^2 - m mean^2 would cancel)."""
    rng = np.random.default_rng(sum(sizes))
    x = rng.standard_normal((sum(sizes), 2, *spatial)) + offset
    starts = np.concatenate([[0], np.cumsum(sizes)])
    parts = np.stack([batch_norm_statistics(x[a:b]) for a, b in itertools.pairwise(starts)])
    count, mean, var = combine_batch_statistics(parts, np.float64)
    axes = (0, *range(2, x.ndim))
    assert count == x.size // 2
    if count:
        np.testing.assert_allclose(mean, x.mean(axis=axes), rtol=1e-13)
        np.testing.assert_allclose(var, x.var(axis=axes), rtol=1e-9, atol=1e-12)


def test_backward_from_local_sums_is_the_training_backward():
    rng = np.random.default_rng(0)
    x, grad = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal((4, 3, 2, 2))
    weight = np.array([0.5, 1.0, 2.0])
    _, x_hat, inv_std = batch_norm_forward(x, None, None, weight, None, training=True)
    expected, _, _ = batch_norm_backward(grad, x_hat, inv_std, weight, training=True)
    sums = batch_norm_grad_sums(grad, x_hat)
    np.testing.assert_array_equal(
        batch_norm_backward_from_sums(grad, x_hat, inv_std, weight, *sums, 16), expected)


# ---------------------------------------------------------------------------- group norm
@st.composite
def group_norm_cases(draw):
    """An (N, C, *) shape with C a multiple of num_groups (two values per group at least),
    its dtype, and every option."""
    num_groups = draw(st.integers(1, 4))
    channels = num_groups * draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, 4), min_size=0, max_size=2))
    if channels // num_groups * int(np.prod(spatial)) < 2:
        spatial.append(2)
    return {
        "num_groups": num_groups,
        "shape": (draw(st.integers(1, 3)), channels, *spatial),
        "dtype": draw(st.sampled_from(DTYPES)),
        "with_weight": draw(st.booleans()),
        "with_bias": draw(st.booleans()),
        "eps": draw(st.sampled_from((1e-5, 1e-3, 0.5))),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@settings(max_examples=40, deadline=None)
@given(group_norm_cases())
def test_group_norm_forward_and_backward_match_torch(case):
    rng = np.random.default_rng(case["seed"])
    dtype, shape, groups = case["dtype"], case["shape"], case["num_groups"]
    channels = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    weight = rng.uniform(0.5, 1.5, channels).astype(dtype) if case["with_weight"] else None
    bias = rng.standard_normal(channels).astype(dtype) if case["with_bias"] else None
    grad_output = rng.standard_normal(shape).astype(dtype)
    x_before, grad_output_before = x.copy(), grad_output.copy()
    # torch always gets a weight and a bias, as in the batch-norm test above.
    x_t = torch.tensor(x, requires_grad=True)
    weight_t = torch.tensor(np.ones(channels, dtype) if weight is None else weight,
                            requires_grad=True)
    bias_t = torch.tensor(np.zeros(channels, dtype) if bias is None else bias,
                          requires_grad=True)
    expected = F.group_norm(x_t, groups, weight_t, bias_t, case["eps"])
    expected.backward(torch.tensor(grad_output))

    output, x_hat, inv_std = group_norm_forward(x, groups, weight, bias, case["eps"])
    assert_close(output, expected, dtype, "output", relative_to="tensor", atol=0.0)
    assert_close(group_norm(x, groups, weight, bias, case["eps"]), expected, dtype, "group_norm",
                 relative_to="tensor", atol=0.0)
    assert x_hat.dtype == inv_std.dtype == dtype and inv_std.shape == (shape[0], groups)
    grad_input, grad_weight, grad_bias = group_norm_backward(grad_output, x_hat, inv_std,
                                                             groups, weight)
    # As batch norm's: g * weight minus its group mean and its projection on x_hat can cancel.
    terms_scale = float(np.abs(weight_t.detach().numpy()).max() * inv_std.max()
                        * np.abs(grad_output).max() * (1 + np.abs(x_hat).max()))
    assert_close(grad_input, x_t.grad, dtype, "grad_input", scale=terms_scale)
    # Sums over the batch and positions can cancel too: scale by the sum of magnitudes.
    sum_scale = float(np.abs(grad_output).sum(axis=(0, *range(2, len(shape)))).max()
                      * (1 + np.abs(x_hat).max()))
    assert_close(grad_weight, weight_t.grad, dtype, "grad_weight", scale=sum_scale)
    assert_close(grad_bias, bias_t.grad, dtype, "grad_bias", scale=sum_scale)
    np.testing.assert_array_equal(x, x_before, err_msg="the input was modified")
    np.testing.assert_array_equal(grad_output, grad_output_before,
                                  err_msg="grad_output was modified")


@pytest.mark.parametrize("num_groups", [1, 2, 4])
def test_group_norm_backward_agrees_with_finite_differences(num_groups):
    rng = np.random.default_rng(num_groups)
    x, weight, bias = rng.standard_normal((2, 4, 3)), rng.uniform(0.5, 1.5, 4), \
        rng.standard_normal(4)

    def backward(grad_output, x, weight, bias):
        _, x_hat, inv_std = group_norm_forward(x, num_groups, weight, bias, 1e-3)
        return group_norm_backward(grad_output, x_hat, inv_std, num_groups, weight)

    report = minicnn.gradcheck(lambda x, weight, bias: group_norm(x, num_groups, weight, bias,
                                                                  1e-3),
                               x, weight, bias, backward=backward)
    assert report.passed, str(report)


def test_group_norm_with_one_group_per_channel_is_batch_norm_of_each_sample():
    """G = C takes each sample's channel on its own: batch norm of a batch of one, per sample."""
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    expected = np.concatenate([batch_norm(sample[None], None, None, training=True)
                               for sample in x])
    assert_close(group_norm(x, 4), expected, np.float64, "GroupNorm(C, C) vs per-sample batch norm",
                 relative_to="tensor", atol=0.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"x": [[1.0, 2.0]]}, TypeError, "expected a numpy.ndarray input"),
        ({"x": np.zeros((2, 4), np.int64)}, TypeError, "float32 or float64 input"),
        ({"x": np.zeros(4)}, ValueError, "at least 2 dimensions"),
        ({"num_groups": 3}, ValueError,
         r"Expected number of channels in input to be divisible by num_groups, but got input "
         r"of shape \(2, 4\) and num_groups=3"),
        ({"num_groups": 0}, ValueError, "num_groups must be a positive integer"),
        ({"weight": np.ones(3)}, ValueError, r"weight of shape \(4,\)"),
        ({"bias": np.ones(4, np.float32)}, TypeError, "bias has dtype float32"),
        ({"eps": 0.0}, ValueError, "eps must be a positive number"),
    ],
)
def test_group_norm_bad_arguments_raise_sentences(kwargs, error, message):
    arguments = {"x": np.zeros((2, 4)), "num_groups": 2}
    arguments.update(kwargs)
    with pytest.raises(error, match=f"group_norm: .*{message}"):
        group_norm(**arguments)


def test_group_norm_of_an_empty_batch_is_empty():
    output, x_hat, inv_std = group_norm_forward(np.zeros((0, 4, 3)), 2)
    assert output.shape == (0, 4, 3) and inv_std.shape == (0, 2)
    grad_input, grad_weight, _ = group_norm_backward(np.zeros((0, 4, 3)), x_hat, inv_std, 2)
    assert grad_input.shape == (0, 4, 3)
    np.testing.assert_array_equal(grad_weight, np.zeros(4))
