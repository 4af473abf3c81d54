"""Exercise ``linear``: the fully connected layer's forward and backward."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.exercise import Case
from minicnn.exercises.layer_exercise import ParameterLayerExercise
from minicnn.exercises.layers import ParameterLayer, replace_layers
from minicnn.exercises.mistakes import (
    BATCH_SIZE,
    BIAS_NOT_SUMMED,
    SIGN_FLIPPED,
    TRANSPOSED_WEIGHT,
)
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional.linear import linear as reference_linear
from minicnn.functional.linear import linear_backward as reference_linear_backward
from minicnn.models.lenet import LeNet5
from minicnn.nn.linear import Linear
from minicnn.random import manual_seed

__all__ = ["LinearExercise", "linear_backward", "linear_forward"]


def linear_forward(x, weight, bias):
    """Reference: minicnn's :func:`~minicnn.functional.linear`; the cache is ``(x, weight)``."""
    return reference_linear(x, weight, bias), (x, weight)


def linear_backward(grad_output, cache):
    """Reference: minicnn's :func:`~minicnn.functional.linear_backward`."""
    x, weight = cache
    return reference_linear_backward(grad_output, x, weight, has_bias=True)


def linear_case(label: str, rng: np.random.Generator, n: int, in_features: int,
                out_features: int) -> Case:
    return Case(label, {
        "x": rng.standard_normal((n, in_features)),
        "weight": rng.standard_normal((out_features, in_features)),
        "bias": rng.standard_normal(out_features),
        "grad_output": rng.standard_normal((n, out_features)),
    }, n)


class LinearExercise(ParameterLayerExercise):
    name = "linear"
    title = "Linear (fully connected) forward and backward"
    functions = ("linear_forward", "linear_backward")
    reference = sys.modules[__name__]
    mistakes = (TRANSPOSED_WEIGHT, BIAS_NOT_SUMMED, SIGN_FLIPPED, BATCH_SIZE)

    def fixed_cases(self):
        rng = np.random.default_rng(17)
        return [linear_case("fixed: N=4, 3 -> 5", rng, 4, 3, 5),
                linear_case("fixed: N=4, 3 -> 3 (a square weight)", rng, 4, 3, 3)]

    def random_cases(self, rng):
        return [linear_case(f"random {index + 1}: N={n}, {i} -> {o}", rng, n, i, o)
                for index, (n, i, o) in enumerate(
                    tuple(int(v) for v in rng.integers(1, 9, 3)) for _ in range(3))]

    def torch_forward(self, torch, x, weight, bias, case):
        return torch.nn.functional.linear(x, weight, bias)

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        if functions is not None:
            replace_layers(model, Linear, lambda layer: ParameterLayer(
                layer, functions.linear_forward, functions.linear_backward))
        return ModuleTrainee(model)
