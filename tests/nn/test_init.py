"""minicnn.nn.init against torch.nn.init: gains, fans, distributions, bounds, seeding, in-place.

The generators differ, so values cannot match torch's; what must match is every formula
(gain, fan, bound, standard deviation) and the shape of the distribution drawn from it.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import minicnn
from minicnn.nn import init
from minicnn.nn.parameter import Parameter

SHAPES = [(300, 200), (64, 16, 3, 3), (40, 8, 5), (12, 6, 2, 3, 4)]


@pytest.fixture(autouse=True)
def seeded():
    """Seed both generators so the statistical checks (5 standard errors) cannot flake."""
    minicnn.manual_seed(2024)
    torch.manual_seed(2024)


def fans(shape):
    """Fan-in and fan-out as torch documents them: size(1) and size(0) times the receptive field."""
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def assert_uniform(values, low, high, what):
    """All values in [low, high], reaching near both ends, with U(low, high)'s mean and variance."""
    n = values.size
    width = high - low
    assert values.min() >= low and values.max() <= high, f"{what}: outside [{low}, {high}]"
    assert values.min() < low + 0.01 * width and values.max() > high - 0.01 * width, (
        f"{what}: does not fill [{low}, {high}]")
    mean_se = width / math.sqrt(12 * n)
    assert abs(values.mean() - (low + high) / 2) < 5 * mean_se, f"{what}: mean"
    # The sample variance of U has relative standard error sqrt(0.8 / n).
    assert abs(values.var() / (width**2 / 12) - 1) < 5 * math.sqrt(0.8 / n), f"{what}: variance"


def assert_normal(values, mean, std, what):
    """Sample mean and standard deviation of N(mean, std^2) to 5 standard errors, and a tail."""
    n = values.size
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(n), f"{what}: mean"
    assert abs(values.std() / std - 1) < 5 / math.sqrt(2 * n), f"{what}: std"
    # 4.55% of a normal lies beyond 2 standard deviations (a uniform has none beyond 1.74):
    # checked to 5 standard errors of that fraction.
    beyond = np.mean(np.abs(values - mean) > 2 * std)
    tail_se = math.sqrt(0.0455 * 0.9545 / n)
    assert abs(beyond - 0.0455) < 5 * tail_se, f"{what}: {beyond:.4f} beyond 2 std, not normal"


# ----------------------------------------------------------------- gains and fans
@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("selu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 3),
    ("leaky_relu", math.sqrt(5)),
])
def test_calculate_gain_equals_torchs(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("nonlinearity, param", [
    ("softplus", None), ("leaky_relu", True), ("leaky_relu", "0.1"),
])
def test_calculate_gain_rejects_what_torch_rejects_with_its_message(nonlinearity, param):
    with pytest.raises(ValueError) as torch_error:
        torch.nn.init.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError, match=re.escape(str(torch_error.value))):
        init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", SHAPES + [(3, 2), (5, 1, 1)])
def test_fans_equal_torchs(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(np.empty(shape)) == expected == fans(shape)


def test_fans_need_two_dimensions_as_in_torch():
    with pytest.raises(ValueError) as torch_error:
        torch.nn.init.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError, match=re.escape(str(torch_error.value))):
        init.xavier_uniform_(np.empty(5))


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(np.empty((3, 4)), mode="fan_avg")


# ----------------------------------------------------------------- plain distributions
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-3.0, -1.0), (-0.1, 0.1)])
def test_uniform_draws_from_the_interval(low, high):
    values = init.uniform_(np.empty((200, 150)), low, high)
    assert_uniform(values, low, high, f"uniform_({low}, {high})")


@pytest.mark.parametrize("mean, std", [(0.0, 1.0), (2.0, 0.5), (-1.0, 0.01)])
def test_normal_draws_from_the_distribution(mean, std):
    assert_normal(init.normal_(np.empty((200, 150)), mean, std), mean, std, "normal_")


def test_constant_zeros_and_ones_fill_exactly():
    np.testing.assert_array_equal(init.constant_(np.empty((2, 3)), 0.25), 0.25)
    np.testing.assert_array_equal(init.zeros_(np.ones((2, 3))), 0.0)
    np.testing.assert_array_equal(init.ones_(np.zeros((2, 3))), 1.0)


def test_defaults_equal_torchs():
    # torch.nn.init.uniform_(a=0, b=1), normal_(mean=0, std=1), gain=1, a=0, mode fan_in,
    # nonlinearity leaky_relu: the same defaults give the same distributions.
    assert_uniform(init.uniform_(np.empty((200, 150))), 0.0, 1.0, "default uniform_")
    assert_normal(init.normal_(np.empty((200, 150))), 0.0, 1.0, "default normal_")
    shape = (300, 200)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fans(shape)[0])  # gain(leaky_relu, 0) = sqrt(2)
    assert_uniform(init.kaiming_uniform_(np.empty(shape)), -bound, bound, "default kaiming")


# ----------------------------------------------------------------- Xavier and Kaiming
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, math.sqrt(2.0), 5.0 / 3])
def test_xavier_uniform_bound_is_torchs_formula(shape, gain):
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert_uniform(init.xavier_uniform_(np.empty(shape), gain), -bound, bound, "xavier_uniform_")
    torch_values = torch.nn.init.xavier_uniform_(torch.empty(shape, dtype=torch.float64), gain)
    assert torch_values.abs().max().item() <= bound, "torch's bound is the same formula"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_xavier_normal_std_is_torchs_formula(shape, gain):
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    assert_normal(init.xavier_normal_(np.empty(shape), gain), 0.0, std, "xavier_normal_")
    torch_values = torch.nn.init.xavier_normal_(torch.empty(shape, dtype=torch.float64), gain)
    assert_normal(torch_values.numpy(), 0.0, std, "torch's xavier_normal_ (the same formula)")


KAIMING_CASES = [
    (0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"),
    (0.2, "fan_out", "leaky_relu"), (0, "fan_in", "relu"), (0, "fan_out", "relu"),
    (0, "FAN_OUT", "tanh"), (0, "fan_in", "linear"),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a, mode, nonlinearity", KAIMING_CASES)
def test_kaiming_uniform_bound_is_torchs_formula(shape, a, mode, nonlinearity):
    fan = fans(shape)[0 if mode.lower() == "fan_in" else 1]
    bound = torch.nn.init.calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    values = init.kaiming_uniform_(np.empty(shape), a, mode, nonlinearity)
    assert_uniform(values, -bound, bound, f"kaiming_uniform_({a}, {mode}, {nonlinearity})")
    torch_values = torch.nn.init.kaiming_uniform_(
        torch.empty(shape, dtype=torch.float64), a, mode, nonlinearity)
    assert_uniform(torch_values.numpy(), -bound, bound, "torch's kaiming_uniform_ (same formula)")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("a, mode, nonlinearity", KAIMING_CASES)
def test_kaiming_normal_std_is_torchs_formula(shape, a, mode, nonlinearity):
    fan = fans(shape)[0 if mode.lower() == "fan_in" else 1]
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    values = init.kaiming_normal_(np.empty(shape), a, mode, nonlinearity)
    assert_normal(values, 0.0, std, f"kaiming_normal_({a}, {mode}, {nonlinearity})")


def test_linear_default_init_bound_is_one_over_sqrt_fan_in():
    # The reason torch's Linear and Conv use a = sqrt(5): the bound becomes 1/sqrt(fan_in).
    shape = (300, 200)
    bound = 1 / math.sqrt(fans(shape)[0])
    values = init.kaiming_uniform_(np.empty(shape), a=math.sqrt(5))
    assert_uniform(values, -bound, bound, "kaiming_uniform_(a=sqrt(5))")


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_zero_element_tensors_are_left_alone_as_in_torch(name):
    assert tuple(getattr(torch.nn.init, name)(torch.empty(0, 3)).shape) == (0, 3)
    array = np.empty((0, 3))
    assert getattr(init, name)(array) is array


# ----------------------------------------------------------------- seeding and in-place
ALL_RANDOM_FILLS = [
    lambda t, g=None: init.uniform_(t, -1, 1, generator=g),
    lambda t, g=None: init.normal_(t, 0, 1, generator=g),
    lambda t, g=None: init.xavier_uniform_(t, generator=g),
    lambda t, g=None: init.xavier_normal_(t, generator=g),
    lambda t, g=None: init.kaiming_uniform_(t, generator=g),
    lambda t, g=None: init.kaiming_normal_(t, generator=g),
]
FILL_IDS = ["uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
            "kaiming_normal_"]


@pytest.mark.parametrize("fill", ALL_RANDOM_FILLS, ids=FILL_IDS)
def test_manual_seed_and_generators_repeat(fill):
    minicnn.manual_seed(123)
    first = fill(np.empty((6, 5))).copy()
    minicnn.manual_seed(123)
    np.testing.assert_array_equal(fill(np.empty((6, 5))), first,
                                  err_msg="manual_seed must make the default generator repeat")
    assert not np.array_equal(fill(np.empty((6, 5))), first), "the next draw must differ"
    from_generator = fill(np.empty((6, 5)), np.random.default_rng(7)).copy()
    np.testing.assert_array_equal(fill(np.empty((6, 5)), np.random.default_rng(7)),
                                  from_generator, err_msg="an explicit generator must repeat")


def test_explicit_generator_leaves_the_default_untouched():
    minicnn.manual_seed(1)
    expected = minicnn.random.default_generator().random(3)
    minicnn.manual_seed(1)
    init.uniform_(np.empty((4, 4)), generator=np.random.default_rng(0))
    np.testing.assert_array_equal(minicnn.random.default_generator().random(3), expected)


ALL_FILLS = ALL_RANDOM_FILLS + [
    lambda t, g=None: init.constant_(t, 0.3), lambda t, g=None: init.zeros_(t),
    lambda t, g=None: init.ones_(t),
]


@pytest.mark.parametrize("fill", ALL_FILLS, ids=FILL_IDS + ["constant_", "zeros_", "ones_"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fills_in_place_keeping_the_dtype(fill, dtype):
    array = np.full((6, 5), np.nan, dtype=dtype)
    assert fill(array) is array, "the function returns the array it filled"
    assert array.dtype == np.dtype(dtype) and not np.isnan(array).any()

    param = Parameter(np.full((6, 5), np.nan, dtype=dtype))
    data = param.data
    assert fill(param) is param, "a Parameter is filled and returned"
    assert param.data is data, "the Parameter keeps its array (views and optimisers see it)"
    assert data.dtype == np.dtype(dtype) and not np.isnan(data).any()

    base = np.full((6, 10), np.nan, dtype=dtype)
    fill(base[:, ::2])
    assert not np.isnan(base[:, ::2]).any() and np.isnan(base[:, 1::2]).all(), (
        "filling a view must write through to exactly its elements")


def test_float32_uniform_stays_within_its_bound():
    # Drawn in float64 and rounded to float32, a value may round to the bound but not past it.
    values = init.uniform_(np.empty((500, 400), np.float32), -0.05, 0.05)
    assert np.abs(values).max() <= np.float32(0.05)
