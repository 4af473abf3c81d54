"""BatchNorm1d, BatchNorm2d and GroupNorm against torch.nn's: outputs, gradients, state, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from tests.helpers import assert_close
from tests.helpers.twins import TORCH_DTYPES

LAYERS = {"BatchNorm1d": (BatchNorm1d, torch.nn.BatchNorm1d),
          "BatchNorm2d": (BatchNorm2d, torch.nn.BatchNorm2d)}
STATE_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def training_grad_input_scale(layer, x: np.ndarray, grad_output: np.ndarray) -> float:
    """Magnitude of the terms of ``weight * inv_std * (g - mean(g) - x_hat * mean(g x_hat))``."""
    axes = (0, *range(2, x.ndim))
    inv_std = 1 / np.sqrt(x.astype(np.float64).var(axis=axes) + layer.eps)
    weight = np.ones(x.shape[1]) if layer.weight is None else layer.weight.data
    max_x_hat = np.sqrt(x.size // x.shape[1])  # |x_hat| <= sqrt(m - 1) in every channel
    return float(np.abs(weight * inv_std).max() * np.abs(grad_output).max() * (1 + max_x_hat))


def to_torch_state(state_dict) -> dict:
    return {key: torch.from_numpy(np.array(value)) for key, value in state_dict.items()}


def assert_state_equal(ours, theirs: torch.nn.Module) -> None:
    """Same state_dict keys, in the same order, with equal values, dtypes and shapes."""
    our_state, their_state = ours.state_dict(), theirs.state_dict()
    assert list(our_state) == list(their_state)
    for key, value in our_state.items():
        if key == "num_batches_tracked":
            assert value.dtype == np.int64 and value.shape == ()
            assert int(value) == int(their_state[key]), "num_batches_tracked differs"
        elif key.startswith("running_"):
            # Means of inputs of order 1 (drawn as 2*N(0,1) + 0.5): their rounding is relative
            # to 1, not to a mean that cancels to near 0 (seen: 7.37e-4, off by 3e-8).
            expected = their_state[key].numpy()
            assert_close(value, expected, expected.dtype, key,
                         scale=max(1.0, float(np.abs(expected).max())))
        else:
            expected = their_state[key].numpy()
            assert_close(value, expected, expected.dtype, key, relative_to="tensor", atol=0.0)


@st.composite
def layer_configs(draw):
    """A layer kind, an input shape for it, and every constructor option."""
    kind = draw(st.sampled_from(sorted(LAYERS)))
    batch = draw(st.integers(2, 5))
    channels = draw(st.integers(1, 4))
    if kind == "BatchNorm1d":
        spatial = draw(st.sampled_from(((),)) | st.tuples(st.integers(1, 5)))
    else:
        spatial = draw(st.tuples(st.integers(1, 5), st.integers(1, 5)))
    return {
        "kind": kind,
        "shape": (batch, channels, *spatial),
        "dtype": np.dtype(draw(st.sampled_from((np.float64, np.float32)))),
        "eps": draw(st.sampled_from((1e-5, 1e-3, 0.1))),
        "momentum": draw(st.sampled_from((0.1, None, 0.0, 1.0)) | st.floats(0.01, 0.99)),
        "affine": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "track_running_stats": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def make_layers(config, rng):
    """Our layer and torch's, same options, sharing random (non-default) affine parameters."""
    ours_cls, torch_cls = LAYERS[config["kind"]]
    options = {key: config[key] for key in ("eps", "momentum", "affine", "track_running_stats")}
    theirs = torch_cls(config["shape"][1], **options, bias=config["bias"],
                       dtype=TORCH_DTYPES[config["dtype"]])
    ours = ours_cls(config["shape"][1], **options, bias=config["bias"], dtype=config["dtype"])
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, param.shape)))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def step(ours, theirs, x: np.ndarray, rng) -> None:
    """One forward and backward through both layers, comparing output and input gradient."""
    x_t = torch.tensor(x, requires_grad=True)
    expected = theirs(x_t)
    output = ours(x)
    assert_close(output, expected, x.dtype, f"output ({'train' if ours.training else 'eval'})",
                 relative_to="tensor", atol=0.0)
    grad_output = rng.standard_normal(x.shape).astype(x.dtype)
    expected.backward(torch.from_numpy(grad_output))
    grad_input = ours.backward(grad_output)
    if ours.training or ours.running_mean is None:  # batch statistics: the terms cancel
        assert_close(grad_input, x_t.grad, x.dtype, "grad_input",
                     scale=training_grad_input_scale(ours, x, grad_output))
    else:
        assert_close(grad_input, x_t.grad, x.dtype, "grad_input", relative_to="tensor", atol=0.0)


@settings(max_examples=40, deadline=None)
@given(layer_configs(), st.integers(1, 3))
def test_training_steps_then_evaluation_match_torch(config, training_steps):
    rng = np.random.default_rng(config["seed"])
    ours, theirs = make_layers(config, rng)
    for _ in range(training_steps):
        x = (rng.standard_normal(config["shape"]) * 2 + 0.5).astype(config["dtype"])
        step(ours, theirs, x, rng)
    # Gradients accumulate over the steps in both frameworks.
    for name, param in ours.named_parameters():
        assert_close(param.grad, theirs.get_parameter(name).grad, config["dtype"], f"{name}.grad",
                     relative_to="tensor", atol=0.0)
    assert_state_equal(ours, theirs)

    ours.eval()
    theirs.eval()
    x = (rng.standard_normal(config["shape"]) * 2 + 0.5).astype(config["dtype"])
    step(ours, theirs, x, rng)
    assert_state_equal(ours, theirs)  # evaluation changes no statistic and counts no batch


@settings(max_examples=25, deadline=None)
@given(layer_configs())
def test_state_dict_loads_both_ways(config):
    rng = np.random.default_rng(config["seed"])
    ours, theirs = make_layers(config, rng)
    x = rng.standard_normal(config["shape"]).astype(config["dtype"])
    for _ in range(2):
        theirs(torch.from_numpy(x))
    ours.load_state_dict(theirs.state_dict())
    assert_state_equal(ours, theirs)

    ours(x * 3 - 1)  # move our statistics away from torch's, then copy them back into torch
    theirs.load_state_dict(to_torch_state(ours.state_dict()))
    assert_state_equal(ours, theirs)


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"eps": 1e-3, "momentum": None},
        {"affine": False},
        {"track_running_stats": False, "momentum": 0.5},
        {"bias": False},
        {"eps": 1, "momentum": 1.0, "affine": False, "track_running_stats": False},
    ],
)
def test_repr_matches_torch(kind, kwargs):
    ours_cls, torch_cls = LAYERS[kind]
    assert repr(ours_cls(16, **kwargs)) == repr(torch_cls(16, **kwargs))


def test_repr_of_the_default_layer():
    assert repr(BatchNorm2d(16)) == (
        "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)"
    )


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("track_running_stats", [True, False])
def test_registers_what_torch_registers_with_its_initial_values(kind, affine, bias,
                                                                track_running_stats):
    ours_cls, torch_cls = LAYERS[kind]
    options = {"affine": affine, "bias": bias, "track_running_stats": track_running_stats}
    ours, theirs = ours_cls(5, **options), torch_cls(5, **options)
    assert [name for name, _ in ours.named_parameters()] == [
        name for name, _ in theirs.named_parameters()
    ]
    assert [name for name, _ in ours.named_buffers()] == [
        name for name, _ in theirs.named_buffers()
    ]
    for key in STATE_KEYS:
        assert (getattr(ours, key) is None) == (getattr(theirs, key) is None), key
    assert_state_equal(ours, theirs)
    for name, param in ours.named_parameters():
        assert param.dtype == np.float32, f"{name} should default to float32"
    if track_running_stats:
        assert ours.running_mean.dtype == ours.running_var.dtype == np.float32


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(BatchNorm1d(3), (1, 3)), (BatchNorm1d(3), (1, 3, 1)), (BatchNorm2d(3), (1, 3, 1, 1)),
     (BatchNorm2d(3, track_running_stats=False).eval(), (1, 3, 1, 1))],
)
def test_single_value_per_channel_raises_when_batch_statistics_are_used(layer, shape):
    torch_layer = getattr(torch.nn, type(layer).__name__)(
        3, track_running_stats=layer.track_running_stats
    ).train(layer.training)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch_layer(torch.zeros(shape))
    message = (rf"{type(layer).__name__}\(3, .*\): expected more than 1 value per channel when "
               rf"training .*got input size \(1, 3")
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape, np.float32))
    if layer.track_running_stats:
        assert int(layer.num_batches_tracked) == 0, "a refused batch must not be counted"


def test_single_value_per_channel_is_fine_in_evaluation_with_running_stats():
    layer = BatchNorm1d(3).eval()
    np.testing.assert_allclose(layer(np.ones((1, 3), np.float32)), np.ones((1, 3)), rtol=1e-5)
    layer.train()
    assert layer(np.ones((1, 3, 2), np.float32)).shape == (1, 3, 2)  # N=1, L=2: two values


@pytest.mark.parametrize("affine", [True, False])
def test_float32_stays_float32(affine):
    layer = BatchNorm2d(3, affine=affine)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    output = layer(x)
    grad_input = layer.backward(np.ones_like(output))
    assert output.dtype == grad_input.dtype == np.float32
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
    for param in layer.parameters():
        assert param.grad.dtype == np.float32
    layer.eval()
    assert layer(x).dtype == np.float32


def test_double_converts_floats_and_keeps_num_batches_tracked_int64():
    layer = BatchNorm1d(4)
    layer(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    layer.double()
    assert layer.weight.dtype == layer.bias.dtype == np.float64
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float64
    assert layer.num_batches_tracked.dtype == np.int64 and layer.num_batches_tracked.shape == ()
    assert int(layer.num_batches_tracked) == 1
    assert layer(np.ones((2, 4))).dtype == np.float64
    assert int(layer.num_batches_tracked) == 2
    with pytest.raises(TypeError, match=r"BatchNorm1d\(4, .*input dtype float32 does not match"):
        layer(np.ones((2, 4), np.float32))


def test_dtype_argument_builds_float64_state():
    layer = BatchNorm2d(2, dtype=np.float64)
    assert layer.weight.dtype == layer.running_var.dtype == np.float64
    assert layer.num_batches_tracked.dtype == np.int64


def test_momentum_none_keeps_the_plain_average_of_the_batch_statistics():
    rng = np.random.default_rng(0)
    layer = BatchNorm1d(3, momentum=None, dtype=np.float64)
    batches = [rng.standard_normal((4, 3, 2)) * (k + 1) for k in range(4)]
    for x in batches:
        layer(x)
    np.testing.assert_allclose(layer.running_mean,
                               np.mean([x.mean(axis=(0, 2)) for x in batches], axis=0))
    np.testing.assert_allclose(
        layer.running_var,
        np.mean([x.transpose(1, 0, 2).reshape(3, -1).var(axis=1, ddof=1) for x in batches],
                axis=0),
    )
    assert int(layer.num_batches_tracked) == 4


def test_turning_tracking_off_after_construction_behaves_like_torch():
    rng = np.random.default_rng(1)
    config = {"kind": "BatchNorm2d", "shape": (3, 2, 4, 4), "dtype": np.dtype(np.float64),
              "eps": 1e-5, "momentum": 0.1, "affine": True, "bias": True,
              "track_running_stats": True}
    ours, theirs = make_layers(config, rng)
    x = rng.standard_normal(config["shape"])
    step(ours, theirs, x, rng)
    ours.track_running_stats = theirs.track_running_stats = False
    step(ours, theirs, x * 2 + 1, rng)  # batch statistics, and the running ones stay put
    assert_state_equal(ours, theirs)
    assert int(ours.num_batches_tracked) == 1
    ours.eval()
    theirs.eval()
    step(ours, theirs, x, rng)  # the buffers still exist, so evaluation uses them


def test_reset_running_stats_and_reset_parameters_restore_the_initial_state_in_place():
    layer = BatchNorm1d(3)
    running_mean, counter = layer.running_mean, layer.num_batches_tracked
    layer(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    layer.weight.data[...] = 2.0
    layer.bias.data[...] = -1.0
    layer.reset_running_stats()
    assert layer.running_mean is running_mean and layer.num_batches_tracked is counter
    np.testing.assert_array_equal(layer.running_mean, 0.0)
    np.testing.assert_array_equal(layer.running_var, 1.0)
    assert int(layer.num_batches_tracked) == 0
    np.testing.assert_array_equal(layer.weight.data, 2.0)  # parameters untouched
    layer.reset_parameters()
    np.testing.assert_array_equal(layer.weight.data, 1.0)
    np.testing.assert_array_equal(layer.bias.data, 0.0)


def test_frozen_weight_gets_no_gradient():
    layer = BatchNorm2d(2)
    layer.weight.requires_grad = False
    output = layer(np.random.default_rng(0).standard_normal((2, 2, 3, 3)).astype(np.float32))
    layer.backward(np.ones_like(output))
    assert layer.weight.grad is None
    assert layer.bias.grad is not None


def test_backward_uses_the_statistics_forward_used_even_after_a_mode_switch():
    rng = np.random.default_rng(2)
    config = {"kind": "BatchNorm1d", "shape": (4, 3, 5), "dtype": np.dtype(np.float64),
              "eps": 1e-5, "momentum": 0.1, "affine": True, "bias": True,
              "track_running_stats": True}
    ours, theirs = make_layers(config, rng)
    x = rng.standard_normal(config["shape"])
    grad_output = rng.standard_normal(config["shape"])
    x_t = torch.tensor(x, requires_grad=True)
    theirs(x_t).backward(torch.from_numpy(grad_output))
    ours(x)
    ours.eval()
    grad_input = ours.backward(grad_output)
    assert_close(grad_input, x_t.grad, np.float64, "grad_input",
                 scale=training_grad_input_scale(ours, x, grad_output))


def test_backward_before_forward_or_twice_raises():
    layer = BatchNorm1d(3)
    with pytest.raises(RuntimeError, match=r"BatchNorm1d\(3, .*backward\(\) called before"):
        layer.backward(np.ones((2, 3), np.float32))
    output = layer(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
    layer.backward(np.ones_like(output))
    with pytest.raises(RuntimeError, match="backward\\(\\) called before forward\\(\\), or twice"):
        layer.backward(np.ones_like(output))


def test_backward_checks_grad_output():
    layer = BatchNorm1d(3)
    layer(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 3\)"):
        layer.backward(np.ones((3, 2), np.float32))
    with pytest.raises(TypeError, match=r"expected grad_output of dtype float32 \(the output.s\), "
                                         "got float64"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize(
    ("layer", "x", "error", "message"),
    [
        (BatchNorm1d(3), np.zeros((2, 3, 4, 4), np.float32), ValueError,
         r"expected 2D or 3D input, got 4D"),
        (BatchNorm2d(3), np.zeros((2, 3, 4), np.float32), ValueError, r"expected 4D input"),
        (BatchNorm2d(3), np.zeros((2, 4, 5, 5), np.float32), ValueError,
         r"expected input with 3 channels, got 4"),
        (BatchNorm1d(3), np.zeros((2, 3)), TypeError, "input dtype float64 does not match"),
        (BatchNorm1d(3, affine=False), np.zeros((2, 3)), TypeError,
         "input dtype float64 does not match"),
        (BatchNorm1d(3), np.zeros((2, 3), np.int32), TypeError,
         "expected a float32 or float64 input, got dtype int32"),
        (BatchNorm1d(3), [[0.0, 1.0, 2.0]], TypeError, "expected a numpy.ndarray input"),
    ],
)
def test_bad_inputs_raise_sentences_naming_the_layer(layer, x, error, message):
    with pytest.raises(error, match=rf"^{type(layer).__name__}\(3, eps=.*: {message}"):
        layer(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_layer_without_parameters_or_buffers_accepts_either_float_dtype(dtype):
    layer = BatchNorm1d(3, affine=False, track_running_stats=False)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    output = layer(x)
    assert output.dtype == layer.backward(np.ones_like(output)).dtype == dtype


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"num_features": 0}, ValueError, "num_features must be positive, got 0"),
        ({"num_features": -2}, ValueError, "num_features must be positive"),
        ({"num_features": 2.5}, TypeError, "num_features must be an int, got 2.5"),
        ({"num_features": True}, TypeError, "num_features must be an int"),
        ({"eps": 0.0}, ValueError, "eps must be a positive number, got 0.0"),
        ({"eps": "1e-5"}, ValueError, "eps must be a positive number"),
        ({"momentum": -0.1}, ValueError, r"momentum must be a number in \[0, 1\]"),
        ({"momentum": 1.5}, ValueError, r"momentum must be .*or None .*, got 1.5"),
        ({"affine": "yes"}, TypeError, "affine must be a bool, got 'yes'"),
        ({"track_running_stats": 1}, TypeError, "track_running_stats must be a bool"),
        ({"bias": None}, TypeError, "bias must be a bool"),
        ({"dtype": np.int32}, TypeError, "dtype must be float32 or float64, got int32"),
    ],
)
@pytest.mark.parametrize("layer_cls", [BatchNorm1d, BatchNorm2d])
def test_bad_arguments_raise_sentences_naming_the_layer(layer_cls, kwargs, error, message):
    arguments = {"num_features": 3, **kwargs}
    with pytest.raises(error, match=f"^{layer_cls.__name__}: {message}"):
        layer_cls(**arguments)


# ---------------------------------------------------------------------------- GroupNorm
def group_norm_grad_input_scale(layer, x: np.ndarray, grad_output: np.ndarray) -> float:
    """Magnitude of the terms of ``inv_std * (d - mean(d) - x_hat * mean(d x_hat))``, with
    ``d = g * weight`` and the means over each sample's group (the rounding is relative to
    them, not to the difference)."""
    groups = x.astype(np.float64).reshape(x.shape[0], layer.num_groups, -1)
    inv_std = 1 / np.sqrt(groups.var(axis=2) + layer.eps)
    weight = np.ones(x.shape[1]) if layer.weight is None else layer.weight.data
    max_x_hat = np.sqrt(groups.shape[2])  # |x_hat| <= sqrt(m - 1) in every group
    return float(inv_std.max(initial=0.0) * np.abs(weight).max()
                 * np.abs(grad_output).max(initial=0.0) * (1 + max_x_hat))


@st.composite
def group_norm_configs(draw):
    """Constructor options and an (N, C, *) input shape, with groups dividing channels."""
    num_groups = draw(st.integers(1, 4))
    channels = num_groups * draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    if channels // num_groups * int(np.prod(spatial)) < 2:
        # Two values per group at least: a single-value group is exactly 0 here and rounding
        # noise in PyTorch (see test_group_norm_of_single_value_groups_is_the_bias).
        spatial.append(2)
    batch = draw(st.integers(1, 3))
    return {
        "num_groups": num_groups,
        "shape": (batch, channels, *spatial),
        "dtype": np.dtype(draw(st.sampled_from((np.float64, np.float32)))),
        "eps": draw(st.sampled_from((1e-5, 1e-3, 0.1))),
        "affine": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def make_group_norms(config, rng):
    """Our GroupNorm and torch's, same options, sharing random (non-default) parameters."""
    options = {key: config[key] for key in ("eps", "affine", "bias")}
    channels = config["shape"][1]
    theirs = torch.nn.GroupNorm(config["num_groups"], channels, **options,
                                dtype=TORCH_DTYPES[config["dtype"]])
    ours = GroupNorm(config["num_groups"], channels, **options, dtype=config["dtype"])
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, param.shape)))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@settings(max_examples=40, deadline=None)
@given(group_norm_configs(), st.booleans())
def test_group_norm_matches_torch_in_training_and_evaluation(config, training):
    rng = np.random.default_rng(config["seed"])
    ours, theirs = make_group_norms(config, rng)
    ours.train(training)
    theirs.train(training)
    shape = config["shape"]
    sum_scale = 0.0  # parameter gradients are sums that can cancel: their terms' magnitude
    for _ in range(2):  # gradients accumulate over the steps in both frameworks
        x = (rng.standard_normal(shape) * 2 + 0.5).astype(config["dtype"])
        x_t = torch.tensor(x, requires_grad=True)
        expected = theirs(x_t)
        output = ours(x)
        assert_close(output, expected, config["dtype"], f"output {config}")
        grad_output = rng.standard_normal(x.shape).astype(x.dtype)
        expected.backward(torch.from_numpy(grad_output))
        assert_close(ours.backward(grad_output), x_t.grad, config["dtype"], f"grad_input {config}",
                     scale=group_norm_grad_input_scale(ours, x, grad_output))
        max_x_hat = np.sqrt(x[0].size // config["num_groups"])
        sum_scale += float(np.abs(grad_output).sum(axis=(0, *range(2, len(shape)))).max()
                           * (1 + max_x_hat))
    for name, param in ours.named_parameters():
        assert_close(param.grad, theirs.get_parameter(name).grad, config["dtype"],
                     f"{name}.grad {config}",
                     scale=sum_scale)


def test_group_norm_statistics_are_per_sample_and_group():
    """Each sample's group has mean 0 and variance 1 (up to eps) after a default GroupNorm,
    whatever the batch: a batch of one works, unlike BatchNorm."""
    x = np.random.default_rng(0).standard_normal((1, 6, 3, 3)) * 5 + 2
    y = GroupNorm(3, 6, eps=1e-12, dtype=np.float64)(x)
    groups = y.reshape(1, 3, -1)
    np.testing.assert_allclose(groups.mean(axis=2), 0, atol=1e-12)
    np.testing.assert_allclose(groups.var(axis=2), 1, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_group_norm_of_single_value_groups_is_the_bias(dtype):
    """A group of one value is normalised to exactly 0 (x - mean = 0): the output is the bias
    and every gradient but the bias's is 0. PyTorch leaves rounding noise times
    ``1/sqrt(eps)`` there (seen: 3e-14 in float64, 6e-5 in float32)."""
    rng = np.random.default_rng(0)
    config = {"num_groups": 3, "shape": (4, 3), "dtype": np.dtype(dtype), "eps": 1e-5,
              "affine": True, "bias": True}
    ours, theirs = make_group_norms(config, rng)
    x = rng.standard_normal(config["shape"]).astype(dtype)
    grad_output = rng.standard_normal(config["shape"]).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    expected = theirs(x_t)
    expected.backward(torch.from_numpy(grad_output))
    output = ours(x)
    np.testing.assert_array_equal(output, np.broadcast_to(ours.bias.data, x.shape))
    np.testing.assert_array_equal(ours.backward(grad_output), 0)
    np.testing.assert_array_equal(ours.weight.grad, 0)
    assert_close(ours.bias.grad, theirs.bias.grad, dtype, "bias.grad")
    noise = 1e-12 if dtype == np.float64 else 1e-3  # torch's rounding times 1/sqrt(eps)
    np.testing.assert_allclose(output, expected.detach().numpy(), atol=noise)
    np.testing.assert_allclose(theirs.weight.grad.numpy(), 0, atol=noise)


@pytest.mark.parametrize("kwargs", [{}, {"eps": 1e-3}, {"affine": False}, {"bias": False},
                                    {"affine": False, "bias": False, "eps": 1}])
def test_group_norm_repr_parameters_and_state_dict_match_torch(kwargs):
    ours, theirs = GroupNorm(2, 6, **kwargs), torch.nn.GroupNorm(2, 6, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_parameters()] == [
        name for name, _ in theirs.named_parameters()]
    for name in ("weight", "bias"):
        assert (getattr(ours, name) is None) == (getattr(theirs, name) is None), name
    for key, value in ours.state_dict().items():
        assert value.dtype == np.float32, f"{key} should default to float32"
        assert_close(value, theirs.state_dict()[key], np.float32, f"initial {key}")


def test_group_norm_state_dict_loads_both_ways():
    rng = np.random.default_rng(0)
    config = {"num_groups": 2, "shape": (2, 4, 3), "dtype": np.dtype(np.float64), "eps": 1e-5,
              "affine": True, "bias": True}
    ours, theirs = make_group_norms(config, rng)
    assert_close(ours.weight.data, theirs.weight, np.float64, "weight loaded from torch")
    ours.weight.data[...] = rng.standard_normal(4)
    ours.bias.data[...] = rng.standard_normal(4)
    theirs.load_state_dict(to_torch_state(ours.state_dict()))
    x = rng.standard_normal(config["shape"])
    assert_close(ours(x), theirs(torch.from_numpy(x)), np.float64,
                 "output after loading into torch")


@pytest.mark.parametrize(("args", "kwargs", "shape"), [
    ((2, 4), {}, (3, 4, 2, 2)),
    ((1, 3), {"bias": False}, (2, 3, 5)),
    ((3, 3), {"affine": False}, (2, 3, 2, 2)),
])
def test_group_norm_gradients_agree_with_finite_differences(args, kwargs, shape):
    rng = np.random.default_rng(1)
    layer = GroupNorm(*args, **kwargs)
    for param in layer.parameters():
        param.data[...] = rng.uniform(0.5, 1.5, param.shape)
    report = minicnn.gradcheck(layer, rng.standard_normal(shape))
    assert report.passed, str(report)


def test_group_norm_float32_stays_float32_and_frozen_weight_gets_no_gradient():
    layer = GroupNorm(2, 4)
    layer.weight.requires_grad = False
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    output = layer(x)
    grad_input = layer.backward(np.ones_like(output))
    assert output.dtype == grad_input.dtype == layer.bias.grad.dtype == np.float32
    assert layer.weight.grad is None
    layer.double()
    assert layer(x.astype(np.float64)).dtype == np.float64


def test_group_norm_without_parameters_accepts_either_float_dtype_and_an_empty_batch():
    layer = GroupNorm(2, 4, affine=False)
    for dtype in (np.float32, np.float64):
        output = layer(np.ones((0, 4, 3), dtype))
        assert output.shape == (0, 4, 3) and output.dtype == dtype
        assert layer.backward(output).shape == (0, 4, 3)


def test_group_norm_channels_not_divisible_raise_torchs_sentence():
    with pytest.raises(ValueError) as torch_error:
        torch.nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match=re.escape(f"GroupNorm: {torch_error.value}")):
        GroupNorm(3, 4)


def test_group_norm_single_value_per_group_raises_as_torch():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        torch.nn.GroupNorm(4, 4)(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"^GroupNorm\(4, 4, .*\): expected more than 1 value "
                                         r"per group .*got input size \(1, 4\)"):
        GroupNorm(4, 4)(np.zeros((1, 4), np.float32))


@pytest.mark.parametrize(("x", "error", "message"), [
    (np.zeros((2, 6, 3), np.float32), ValueError, r"expected input with 4 channels, got 6"),
    (np.zeros(4, np.float32), ValueError,
     r"expected an input of shape \(N, C, \*\) with at least 2 dimensions, got shape \(4,\)"),
    (np.zeros((2, 4)), TypeError, "input dtype float64 does not match"),
    (np.zeros((2, 4), np.int64), TypeError, "expected a float32 or float64 input"),
    ([[0.0] * 4], TypeError, "expected a numpy.ndarray input"),
])
def test_group_norm_bad_inputs_raise_naming_the_layer(x, error, message):
    with pytest.raises(error, match=rf"^GroupNorm\(2, 4, eps=1e-05, affine=True, bias=True\): "
                                    rf"{message}"):
        GroupNorm(2, 4)(x)


def test_group_norm_backward_before_forward_and_bad_grad_output_raise():
    layer = GroupNorm(2, 4)
    with pytest.raises(RuntimeError, match=r"^GroupNorm\(2, 4, .*backward\(\) called before"):
        layer.backward(np.ones((2, 4), np.float32))
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 4\)"):
        layer.backward(np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="expected grad_output of dtype float32"):
        layer.backward(np.ones((2, 4)))


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), [
    ((0, 4), {}, ValueError, "num_groups must be positive, got 0"),
    ((2, 0), {}, ValueError, "num_channels must be positive, got 0"),
    ((2.0, 4), {}, TypeError, "num_groups must be an int, got 2.0"),
    ((2, 4), {"eps": 0}, ValueError, "eps must be a positive number, got 0"),
    ((2, 4), {"affine": 1}, TypeError, "affine must be a bool, got 1"),
    ((2, 4), {"bias": None}, TypeError, "bias must be a bool"),
    ((2, 4), {"dtype": np.int32}, TypeError, "dtype must be float32 or float64"),
])
def test_group_norm_bad_arguments_raise_naming_the_layer(args, kwargs, error, message):
    with pytest.raises(error, match=f"^GroupNorm: {message}"):
        GroupNorm(*args, **kwargs)
