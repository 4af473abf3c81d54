"""RMSprop against torch.optim.RMSprop: alpha, eps, weight decay, momentum, centered."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.nn.parameter import Parameter
from minicnn.optim import RMSprop


@st.composite
def rmsprop_options(draw) -> dict:
    return {
        "lr": draw(st.floats(1e-4, 0.05)),
        # alpha far from 0: centered RMSprop takes sqrt(v - a**2), which for alpha near 0
        # is a difference of near-equal numbers, and any rounding is amplified.
        "alpha": draw(st.floats(0.3, 0.999)),
        "eps": draw(st.sampled_from([1e-8, 1e-6, 1e-3])),
        "weight_decay": draw(st.one_of(st.just(0.0), st.floats(1e-4, 0.1))),
        "momentum": draw(st.one_of(st.just(0.0), st.floats(0.05, 0.95))),
        "centered": draw(st.booleans()),
        "maximize": draw(st.booleans()),
    }


@settings(max_examples=40, deadline=None)
@given(options=rmsprop_options(), seed=st.integers(0, 2**32 - 1))
def test_rmsprop_matches_torch_over_50_steps(against_torch, options, seed):
    run = against_torch(
        lambda params: RMSprop(params, **options),
        lambda params: torch.optim.RMSprop(params, **options),
        seed=seed,
    )
    run.assert_parameters_match()


@settings(max_examples=20, deadline=None)
@given(options=rmsprop_options(), seed=st.integers(0, 2**32 - 1))
def test_rmsprop_skips_parameters_without_gradient_like_torch(against_torch, options, seed):
    run = against_torch(
        lambda params: RMSprop(params, **options),
        lambda params: torch.optim.RMSprop(params, **options),
        seed=seed,
        grad_probability=0.6,
    )
    run.assert_parameters_match()


def test_rmsprop_state_has_torchs_keys():
    options = {"momentum": 0.5, "centered": True}
    param, tensor = Parameter(np.ones(3)), torch.ones(3, dtype=torch.float64, requires_grad=True)
    ours, theirs = RMSprop([param], **options), torch.optim.RMSprop([tensor], **options)
    param.grad, tensor.grad = np.ones(3), torch.ones(3, dtype=torch.float64)
    ours.step()
    theirs.step()
    assert set(ours.state[param]) == set(theirs.state[tensor]), (
        f"expected state keys {sorted(theirs.state[tensor])}, got {sorted(ours.state[param])}"
    )


def test_rmsprop_defaults_match_torch():
    ours = RMSprop([Parameter(np.zeros(2))]).defaults
    theirs = torch.optim.RMSprop([torch.zeros(2, requires_grad=True)]).defaults
    for key, value in ours.items():
        assert theirs[key] == value, f"default {key}: expected torch's {theirs[key]}, got {value}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -0.01}, "learning rate"),
        ({"eps": -1.0}, "epsilon"),
        ({"momentum": -0.9}, "momentum"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"alpha": -0.5}, "alpha"),
    ],
)
def test_rmsprop_rejects_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        RMSprop([Parameter(np.zeros(2))], **options)
