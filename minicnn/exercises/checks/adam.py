"""Exercise ``adam``: PyTorch's Adam update, over several steps."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.checks.sgd_momentum import optimizer_case
from minicnn.exercises.exercise import Exercise, unpack
from minicnn.exercises.layers import FunctionOptimizer
from minicnn.exercises.mistakes import SIGN_FLIPPED, Mistake, matches
from minicnn.exercises.training import ModuleTrainee
from minicnn.models.lenet import LeNet5
from minicnn.nn.parameter import Parameter
from minicnn.optim.adam import Adam
from minicnn.random import manual_seed

__all__ = ["AdamExercise", "adam_update"]

ADAM_LR = 1e-3
"""The learning rate of Adam's LeNet-5 run (PyTorch's default)."""


def adam_update(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999),
                eps=1e-8, weight_decay=0.0):
    """Reference: one step of minicnn's :class:`~minicnn.optim.Adam`, from the given state."""
    parameter = Parameter(param.copy())
    parameter.grad = grad
    optimizer = Adam([parameter], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    optimizer.state[parameter] = {"step": step - 1, "exp_avg": exp_avg.copy(),
                                  "exp_avg_sq": exp_avg_sq.copy()}
    optimizer.step()
    state = optimizer.state[parameter]
    return parameter.data, state["exp_avg"], state["exp_avg_sq"]


def _variant_params(case, correct_bias: bool, eps_inside: bool) -> dict[str, np.ndarray]:
    """The parameters after each step with a wrong form of the update."""
    inputs = case.inputs
    beta1, beta2 = inputs["betas"]
    param = inputs["param"]
    exp_avg, exp_avg_sq = np.zeros_like(param), np.zeros_like(param)
    results = {}
    for step in range(1, len(inputs["grads"]) + 1):
        grad = inputs["grads"][str(step - 1)] + inputs["weight_decay"] * param
        exp_avg = beta1 * exp_avg + (1 - beta1) * grad
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad**2
        m_hat = exp_avg / (1 - beta1**step) if correct_bias else exp_avg
        v_hat = exp_avg_sq / (1 - beta2**step) if correct_bias else exp_avg_sq
        eps = inputs["eps"]
        denominator = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        param = param - inputs["lr"] * m_hat / denominator
        results[f"param after step {step}"] = param
    return results


def _variant(correct_bias: bool, eps_inside: bool):
    def test(actual, expected, case, tensor) -> bool:
        return tensor.startswith("param") and matches(
            actual, _variant_params(case, correct_bias, eps_inside)[tensor])
    return test


class AdamExercise(Exercise):
    name = "adam"
    title = "the Adam update (PyTorch's rule)"
    functions = ("adam_update",)
    reference = sys.modules[__name__]
    has_backward = False
    mistakes = (
        Mistake("no bias correction",
                "m and v start at zero, so for the first steps they are too small by "
                "(1 - beta1**t) and (1 - beta2**t): divide them by those factors",
                (), _variant(correct_bias=False, eps_inside=False)),
        Mistake("eps inside the square root",
                "PyTorch adds eps after the square root of the corrected v: "
                "sqrt(v) / sqrt(1 - beta2**t) + eps",
                (), _variant(correct_bias=True, eps_inside=True)),
        SIGN_FLIPPED,
    )

    def fixed_cases(self):
        rng = np.random.default_rng(43)
        return [
            optimizer_case("fixed: lr 0.01, the default betas and eps", rng, (3, 2), 3,
                           lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
            optimizer_case("fixed: betas (0.5, 0.6), eps 0.1, weight decay 0.1", rng, (4,), 3,
                           lr=0.1, betas=(0.5, 0.6), eps=0.1, weight_decay=0.1),
        ]

    def random_cases(self, rng):
        return [optimizer_case(
            f"random {index + 1}", rng, tuple(int(v) for v in rng.integers(1, 5, 2)), 4,
            lr=float(rng.uniform(1e-3, 0.1)),
            betas=(float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.6, 0.999))),
            eps=float(rng.choice([1e-8, 1e-3, 0.1])),
            weight_decay=float(rng.choice([0.0, 0.01]))) for index in range(3)]

    def run(self, functions, case):
        inputs = case.inputs
        param = inputs["param"]
        exp_avg, exp_avg_sq = np.zeros_like(param), np.zeros_like(param)
        results = {}
        for step in range(1, len(inputs["grads"]) + 1):
            param, exp_avg, exp_avg_sq = unpack(functions.adam_update(
                param, inputs["grads"][str(step - 1)], exp_avg, exp_avg_sq, step, inputs["lr"],
                inputs["betas"], inputs["eps"], inputs["weight_decay"]),
                3, "adam_update", "(new_param, new_exp_avg, new_exp_avg_sq)")
            results[f"param after step {step}"] = param
            results[f"exp_avg after step {step}"] = exp_avg
            results[f"exp_avg_sq after step {step}"] = exp_avg_sq
        return results

    def torch_outputs(self, torch, case):
        inputs = case.inputs
        param = torch.tensor(inputs["param"], requires_grad=True)
        optimizer = torch.optim.Adam([param], lr=inputs["lr"], betas=inputs["betas"],
                                     eps=inputs["eps"], weight_decay=inputs["weight_decay"])
        results = {}
        for step in range(1, len(inputs["grads"]) + 1):
            param.grad = torch.tensor(inputs["grads"][str(step - 1)])
            optimizer.step()
            state = optimizer.state[param]
            results[f"param after step {step}"] = param.detach().numpy().copy()
            results[f"exp_avg after step {step}"] = state["exp_avg"].numpy().copy()
            results[f"exp_avg_sq after step {step}"] = state["exp_avg_sq"].numpy().copy()
        return results

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        if functions is None:
            return ModuleTrainee(model, optimizer=Adam(model.parameters(), lr=ADAM_LR))

        def update(param, grad, state, step):
            exp_avg, exp_avg_sq = state if state is not None else (np.zeros_like(param),) * 2
            new_param, exp_avg, exp_avg_sq = functions.adam_update(
                param, grad, exp_avg, exp_avg_sq, step, ADAM_LR)
            return new_param, (exp_avg, exp_avg_sq)

        return ModuleTrainee(model, optimizer=FunctionOptimizer(model.parameters(), update))
