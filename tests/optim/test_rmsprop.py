"""RMSprop against torch.optim.RMSprop: alpha, eps, weight decay, momentum, centered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minicnn.nn.parameter import Parameter
from minicnn.optim import RMSprop


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
