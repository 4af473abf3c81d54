"""Every optimiser against its torch.optim twin: 50 steps on the same parameters and gradients.

One parametrised body per property, over SGD, RMSprop, Adam and AdamW, each with the options
drawn by its own hypothesis strategy (:mod:`tests.helpers.strategies`): the trajectories agree
to float64 rounding, a parameter without a gradient is skipped (and keeps its own step count)
as torch skips it, and the constructors' defaults are torch's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.nn.parameter import Parameter
from minicnn.optim import SGD, Adam, AdamW, RMSprop
from tests.helpers.strategies import adam_options, rmsprop_options, sgd_options

# name -> (minicnn class, torch class, strategy of constructor options both accept)
OPTIMIZERS = {
    "SGD": (SGD, torch.optim.SGD, sgd_options()),
    "RMSprop": (RMSprop, torch.optim.RMSprop, rmsprop_options()),
    "Adam": (Adam, torch.optim.Adam, adam_options()),
    "AdamW": (AdamW, torch.optim.AdamW, adam_options()),
}


def run_both(against_torch, name: str, options: dict, seed: int, grad_probability: float = 1.0):
    ours, theirs, _ = OPTIMIZERS[name]
    return against_torch(
        lambda params: ours(params, **options),
        lambda params: theirs(params, **options),
        seed=seed,
        grad_probability=grad_probability,
    )


@pytest.mark.parametrize("name", OPTIMIZERS)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_matches_torch_over_50_steps(against_torch, name, data, seed):
    options = data.draw(OPTIMIZERS[name][2], label="options")
    run_both(against_torch, name, options, seed).assert_parameters_match()


@pytest.mark.parametrize("name", OPTIMIZERS)
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_skips_parameters_without_gradient_like_torch(against_torch, name, data, seed):
    # A parameter whose .grad is None neither moves nor advances its state (momentum buffer,
    # moments); one skipped keeps its own, smaller, step count for bias correction.
    options = data.draw(OPTIMIZERS[name][2], label="options")
    run = run_both(against_torch, name, options, seed, grad_probability=0.6)
    run.assert_parameters_match()
    for param, tensor in zip(run.ours, run.theirs):
        their_state = run.theirs_optimizer.state.get(tensor, {})
        if "step" in their_state:
            expected = int(their_state["step"])
            got = run.ours_optimizer.state[param]["step"]
            assert got == expected, f"{name}: step count {got}, expected torch's {expected}"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_match_torch(name):
    ours, theirs, _ = OPTIMIZERS[name]
    our_defaults = ours([Parameter(np.zeros(2))]).defaults
    their_defaults = theirs([torch.zeros(2, requires_grad=True)]).defaults
    for key, value in our_defaults.items():
        assert their_defaults[key] == value, (
            f"{name} default {key}: expected torch's {their_defaults[key]}, got {value}"
        )
