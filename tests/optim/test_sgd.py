"""SGD against torch.optim.SGD: momentum, dampening, Nesterov, weight decay, maximize."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.nn.parameter import Parameter
from minicnn.optim import SGD


@st.composite
def sgd_options(draw) -> dict:
    nesterov = draw(st.booleans())
    momentum = draw(st.one_of(st.just(0.0), st.floats(0.05, 0.99)))
    dampening = draw(st.one_of(st.just(0.0), st.floats(0.0, 0.9)))
    if nesterov:
        # torch's rule: Nesterov needs momentum > 0 and no dampening.
        momentum = max(momentum, 0.5)
        dampening = 0.0
    return {
        "lr": draw(st.floats(1e-4, 0.5)),
        "momentum": momentum,
        "dampening": dampening,
        "weight_decay": draw(st.one_of(st.just(0.0), st.floats(1e-4, 0.1))),
        "nesterov": nesterov,
        "maximize": draw(st.booleans()),
    }


@settings(max_examples=40, deadline=None)
@given(options=sgd_options(), seed=st.integers(0, 2**32 - 1))
def test_sgd_matches_torch_over_50_steps(against_torch, options, seed):
    run = against_torch(
        lambda params: SGD(params, **options),
        lambda params: torch.optim.SGD(params, **options),
        seed=seed,
    )
    run.assert_parameters_match()


@settings(max_examples=25, deadline=None)
@given(options=sgd_options(), seed=st.integers(0, 2**32 - 1))
def test_sgd_skips_parameters_without_gradient_like_torch(against_torch, options, seed):
    # A parameter whose .grad is None neither moves nor advances its momentum buffer.
    run = against_torch(
        lambda params: SGD(params, **options),
        lambda params: torch.optim.SGD(params, **options),
        seed=seed,
        grad_probability=0.6,
    )
    run.assert_parameters_match()


def test_sgd_first_momentum_buffer_is_the_undamped_gradient():
    param = Parameter(np.zeros(3))
    optimizer = SGD([param], lr=0.1, momentum=0.9, dampening=0.5)
    param.grad = np.array([1.0, 2.0, 3.0])
    optimizer.step()
    np.testing.assert_array_equal(
        optimizer.state[param]["momentum_buffer"], [1.0, 2.0, 3.0],
        err_msg="the first momentum buffer should be a copy of the gradient, without dampening",
    )
    assert optimizer.state[param]["momentum_buffer"] is not param.grad, (
        "the momentum buffer must not alias the gradient array"
    )


def test_sgd_defaults_match_torch():
    param = Parameter(np.zeros(2))
    ours = SGD([param]).defaults
    theirs = torch.optim.SGD([torch.zeros(2, requires_grad=True)]).defaults
    for key, value in ours.items():
        assert theirs[key] == value, f"default {key}: expected torch's {theirs[key]}, got {value}"


def test_sgd_without_momentum_keeps_no_state():
    param = Parameter(np.ones(2))
    optimizer = SGD([param], lr=0.5)
    param.grad = np.ones(2)
    optimizer.step()
    assert len(optimizer.state) == 0, "plain SGD should store no state, as torch's"
    np.testing.assert_array_equal(param.data, [0.5, 0.5])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -0.1}, "learning rate"),
        ({"momentum": -0.5}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"nesterov": True}, "Nesterov"),
        ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "Nesterov"),
    ],
)
def test_sgd_rejects_invalid_options(options, message):
    with pytest.raises(ValueError, match=message):
        SGD([Parameter(np.zeros(2))], **options)


def test_sgd_checks_the_options_of_each_parameter_group():
    with pytest.raises(ValueError, match="learning rate -1"):
        SGD([{"params": [Parameter(np.zeros(2))], "lr": -1}], lr=0.1)


def test_sgd_rejects_a_non_numeric_learning_rate():
    with pytest.raises(TypeError, match="lr must be a real number"):
        SGD([Parameter(np.zeros(2))], lr="0.1")
