"""Adam and AdamW against torch.optim: bias correction, eps, AMSGrad, (decoupled) weight decay."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.nn.parameter import Parameter
from minicnn.optim import Adam, AdamW

OPTIMIZERS = {"Adam": (Adam, torch.optim.Adam), "AdamW": (AdamW, torch.optim.AdamW)}


@st.composite
def adam_options(draw) -> dict:
    return {
        "lr": draw(st.floats(1e-4, 0.1)),
        "betas": (draw(st.floats(0.0, 0.99)), draw(st.floats(0.5, 0.9999))),
        "eps": draw(st.sampled_from([1e-8, 1e-6, 1e-3])),
        "weight_decay": draw(st.one_of(st.just(0.0), st.floats(1e-4, 0.5))),
        "amsgrad": draw(st.booleans()),
        "maximize": draw(st.booleans()),
    }


@pytest.mark.parametrize("name", OPTIMIZERS)
@settings(max_examples=30, deadline=None)
@given(options=adam_options(), seed=st.integers(0, 2**32 - 1))
def test_adam_matches_torch_over_50_steps(against_torch, name, options, seed):
    ours, theirs = OPTIMIZERS[name]
    run = against_torch(
        lambda params: ours(params, **options),
        lambda params: theirs(params, **options),
        seed=seed,
    )
    run.assert_parameters_match()


@pytest.mark.parametrize("name", OPTIMIZERS)
@settings(max_examples=20, deadline=None)
@given(options=adam_options(), seed=st.integers(0, 2**32 - 1))
def test_adam_step_count_is_per_parameter_like_torch(against_torch, name, options, seed):
    # Parameters skipped (no gradient) keep their own, smaller, step for bias correction.
    ours, theirs = OPTIMIZERS[name]
    run = against_torch(
        lambda params: ours(params, **options),
        lambda params: theirs(params, **options),
        seed=seed,
        grad_probability=0.6,
    )
    run.assert_parameters_match()
    for param, tensor in zip(run.ours, run.theirs):
        if tensor in run.theirs_optimizer.state:
            expected = int(run.theirs_optimizer.state[tensor]["step"])
            assert run.ours_optimizer.state[param]["step"] == expected


def test_adam_with_decoupled_weight_decay_is_adamw(against_torch):
    options = {"lr": 0.01, "weight_decay": 0.1}
    run = against_torch(
        lambda params: Adam(params, decoupled_weight_decay=True, **options),
        lambda params: torch.optim.AdamW(params, **options),
        seed=7,
    )
    run.assert_parameters_match()


def test_amsgrad_keeps_the_running_maximum_of_the_second_moment():
    param = Parameter(np.zeros(1))
    optimizer = Adam([param], amsgrad=True)
    seen = []
    for grad in (3.0, 0.1, 0.1):
        param.grad = np.array([grad])
        optimizer.step()
        seen.append(optimizer.state[param]["exp_avg_sq"].copy())
    np.testing.assert_array_equal(optimizer.state[param]["max_exp_avg_sq"], np.max(seen, axis=0))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_adam_defaults_match_torch(name):
    ours, theirs = OPTIMIZERS[name]
    our_defaults = ours([Parameter(np.zeros(2))]).defaults
    their_defaults = theirs([torch.zeros(2, requires_grad=True)]).defaults
    for key, value in our_defaults.items():
        assert their_defaults[key] == value, (
            f"{name} default {key}: expected torch's {their_defaults[key]}, got {value}"
        )


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -1e-3}, "learning rate"),
        ({"eps": -1e-8}, "epsilon"),
        ({"betas": (1.0, 0.999)}, "beta parameter at index 0"),
        ({"betas": (0.9, -0.1)}, "beta parameter at index 1"),
        ({"betas": (0.9,)}, "pair"),
        ({"weight_decay": -0.1}, "weight_decay"),
    ],
)
def test_adam_rejects_invalid_options(name, options, message):
    with pytest.raises(ValueError, match=message):
        OPTIMIZERS[name][0]([Parameter(np.zeros(2))], **options)
