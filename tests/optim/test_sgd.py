"""SGD against torch.optim.SGD: momentum, dampening, Nesterov, weight decay, maximize."""

from __future__ import annotations

import numpy as np
import pytest

from minicnn.nn.parameter import Parameter
from minicnn.optim import SGD


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
