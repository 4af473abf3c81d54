"""Adam and AdamW against torch.optim: bias correction, eps, AMSGrad, (decoupled) weight decay."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minicnn.nn.parameter import Parameter
from minicnn.optim import Adam, AdamW

OPTIMIZERS = {"Adam": (Adam, torch.optim.Adam), "AdamW": (AdamW, torch.optim.AdamW)}


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
