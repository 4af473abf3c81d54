"""Shared harness: train the same parameters with the same gradients under minicnn and torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from minicnn.nn.parameter import Parameter

SHAPES = ((3, 4), (5,), (2, 1, 3, 3))


@dataclass
class ParityRun:
    """The parameters and optimisers of both libraries after the same training steps."""

    ours: list[Parameter]
    theirs: list[torch.Tensor]
    ours_optimizer: object
    theirs_optimizer: torch.optim.Optimizer

    def assert_parameters_match(self, rtol: float = 1e-10, atol: float = 1e-12) -> None:
        for i, (ours, theirs) in enumerate(zip(self.ours, self.theirs)):
            np.testing.assert_allclose(
                ours.data, theirs.detach().numpy(), rtol=rtol, atol=atol,
                err_msg=f"parameter {i} differs from torch's after the same steps",
            )


def train_against_torch(
    make_ours: Callable[[list[Parameter]], object],
    make_theirs: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    *,
    seed: int,
    steps: int = 50,
    dtype=np.float64,
    grad_probability: float = 1.0,
    shapes: tuple[tuple[int, ...], ...] = SHAPES,
) -> ParityRun:
    """Run ``steps`` optimiser steps in both libraries on identical parameters and gradients.

    ``make_ours`` / ``make_theirs`` build an optimiser from the list of parameters. Each
    step every parameter gets a fresh standard-normal gradient, or (with probability
    ``1 - grad_probability``) none, which both optimisers must skip.
    """
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    ours = [Parameter(x.copy()) for x in initial]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in initial]
    ours_optimizer = make_ours(ours)
    theirs_optimizer = make_theirs(theirs)
    for _ in range(steps):
        for our_param, their_param, shape in zip(ours, theirs, shapes):
            if rng.random() < grad_probability:
                grad = rng.standard_normal(shape).astype(dtype)
                our_param.grad = grad.copy()
                their_param.grad = torch.from_numpy(grad.copy())
            else:
                our_param.grad = None
                their_param.grad = None
        ours_optimizer.step()
        theirs_optimizer.step()
    return ParityRun(ours, theirs, ours_optimizer, theirs_optimizer)


@pytest.fixture(scope="session")
def against_torch() -> Callable[..., ParityRun]:
    """:func:`train_against_torch`, as a fixture so test modules need no import path."""
    return train_against_torch
