"""Exercise ``sgd_momentum``: PyTorch's SGD-with-momentum update, over several steps."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.exercise import Case, Exercise, unpack
from minicnn.exercises.layers import FunctionOptimizer
from minicnn.exercises.mistakes import Mistake, matches
from minicnn.exercises.training import LR, MOMENTUM, ModuleTrainee
from minicnn.functional.optim import sgd_update
from minicnn.models.lenet import LeNet5
from minicnn.random import manual_seed

__all__ = ["SGDMomentumExercise", "optimizer_case", "sgd_momentum_update"]


def sgd_momentum_update(param, grad, buffer, lr, momentum, weight_decay=0.0, nesterov=False):
    """Reference: minicnn's :func:`~minicnn.functional.sgd_update` on copies."""
    new_param = param.copy()
    new_buffer = sgd_update(new_param, grad, None if buffer is None else buffer.copy(),
                            lr=lr, momentum=momentum, dampening=0.0,
                            weight_decay=weight_decay, nesterov=nesterov)
    return new_param, new_buffer


def optimizer_case(label: str, rng: np.random.Generator, shape, steps: int, **settings) -> Case:
    """A parameter, one gradient per step, and the settings (a learning rate per step)."""
    return Case(label, {"param": rng.standard_normal(shape),
                        "grads": {str(step): rng.standard_normal(shape) for step in range(steps)},
                        **settings}, None)


def _uphill(actual, expected, case, tensor) -> bool:
    if not tensor.startswith("param"):
        return False
    before = _param_before(case, tensor)
    return matches(actual - before, -(expected - before))


def _param_before(case, tensor: str) -> np.ndarray:
    """The parameter before the step that produced ``tensor`` (``param after step k``)."""
    step = int(tensor.rsplit(" ", 1)[1])
    if step == 1:
        return case.inputs["param"]
    return SGDMomentumExercise().run(SGDMomentumExercise.reference, case)[
        f"param after step {step - 1}"]


def _lr_in_buffer(actual, expected, case, tensor) -> bool:
    if not tensor.startswith("buffer"):
        return False
    lrs = case.inputs["lrs"]
    return any(matches(actual, expected * lr) for lr in lrs)


class SGDMomentumExercise(Exercise):
    name = "sgd_momentum"
    title = "the SGD-with-momentum update (PyTorch's rule)"
    functions = ("sgd_momentum_update",)
    reference = sys.modules[__name__]
    has_backward = False
    mistakes = (
        Mistake("sign flipped",
                "your step goes uphill: the update subtracts lr times the (momentum) gradient",
                (), _uphill),
        Mistake("learning rate inside the momentum buffer",
                "PyTorch's buffer holds b = momentum*b + g, and the step is lr*b; the form "
                "v = momentum*v + lr*g agrees only while the learning rate never changes "
                "(a schedule changes it)",
                (), _lr_in_buffer),
    )

    def fixed_cases(self):
        rng = np.random.default_rng(41)
        return [
            optimizer_case("fixed: momentum 0.9, learning rate 0.1, 0.05, 0.02", rng, (3, 2), 3,
                           lrs=(0.1, 0.05, 0.02), momentum=0.9, weight_decay=0.0,
                           nesterov=False),
            optimizer_case("fixed: Nesterov, weight decay 0.01", rng, (4,), 3,
                           lrs=(0.1, 0.1, 0.1), momentum=0.8, weight_decay=0.01, nesterov=True),
        ]

    def random_cases(self, rng):
        return [optimizer_case(
            f"random {index + 1}", rng, tuple(int(v) for v in rng.integers(1, 5, 2)), 4,
            lrs=tuple(float(v) for v in rng.uniform(0.01, 0.5, 4)),
            momentum=float(rng.uniform(0.1, 0.99)),
            weight_decay=float(rng.choice([0.0, 1e-3, 0.1])), nesterov=bool(rng.integers(2)))
            for index in range(3)]

    def run(self, functions, case):
        inputs = case.inputs
        param, buffer = inputs["param"], None
        results = {}
        for step, lr in enumerate(inputs["lrs"], start=1):
            param, buffer = unpack(functions.sgd_momentum_update(
                param, inputs["grads"][str(step - 1)], buffer, lr, inputs["momentum"],
                inputs["weight_decay"], inputs["nesterov"]),
                2, "sgd_momentum_update", "(new_param, new_buffer)")
            results[f"param after step {step}"] = param
            results[f"buffer after step {step}"] = buffer
        return results

    def torch_outputs(self, torch, case):
        inputs = case.inputs
        param = torch.tensor(inputs["param"], requires_grad=True)
        optimizer = torch.optim.SGD([param], lr=inputs["lrs"][0], momentum=inputs["momentum"],
                                    weight_decay=inputs["weight_decay"],
                                    nesterov=inputs["nesterov"])
        results = {}
        for step, lr in enumerate(inputs["lrs"], start=1):
            optimizer.param_groups[0]["lr"] = lr
            param.grad = torch.tensor(inputs["grads"][str(step - 1)])
            optimizer.step()
            results[f"param after step {step}"] = param.detach().numpy().copy()
            results[f"buffer after step {step}"] = (
                optimizer.state[param]["momentum_buffer"].numpy().copy())
        return results

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        if functions is None:
            return ModuleTrainee(model)
        optimizer = FunctionOptimizer(
            model.parameters(),
            lambda param, grad, buffer, step: functions.sgd_momentum_update(
                param, grad, buffer, LR, MOMENTUM))
        return ModuleTrainee(model, optimizer=optimizer)
