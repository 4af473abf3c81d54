"""Exercise ``relu``: ReLU forward and backward."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.exercise import Case
from minicnn.exercises.layer_exercise import InputLayerExercise
from minicnn.exercises.layers import FunctionLayer, replace_layers
from minicnn.exercises.mistakes import BATCH_SIZE, SIGN_FLIPPED, Mistake, wrong_only_where
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import activation
from minicnn.models.lenet import LeNet5
from minicnn.nn.activation import ReLU
from minicnn.random import manual_seed

__all__ = ["ReLUExercise", "relu_backward", "relu_forward"]


def relu_forward(x):
    """Reference: minicnn's :func:`~minicnn.functional.relu`; the cache is the input."""
    return activation.relu(x), x


def relu_backward(grad_output, cache):
    """Reference: minicnn's :func:`~minicnn.functional.relu_backward`."""
    return activation.relu_backward(grad_output, cache)


def _mask_at_zero(actual, expected, case, tensor) -> bool:
    return wrong_only_where(actual, expected, case.inputs["x"] == 0)


class ReLUExercise(InputLayerExercise):
    name = "relu"
    title = "ReLU forward and backward"
    functions = ("relu_forward", "relu_backward")
    reference = sys.modules[__name__]
    mistakes = (
        SIGN_FLIPPED,
        Mistake("gradient passed where x == 0",
                "at exactly 0 ReLU's derivative is taken as 0, as PyTorch does: the mask is "
                "x > 0, not x >= 0", ("grad_input",), _mask_at_zero),
        BATCH_SIZE,
    )

    def fixed_cases(self):
        x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0], [1.5, 0.0, -1.0, 3.0, -0.25]])
        grad = np.array([[0.1, -0.2, 0.3, -0.4, 0.5], [0.6, 0.7, -0.8, 0.9, -1.0]])
        return [Case("fixed: 2x5 with zeros", {"x": x, "grad_output": grad}, 2,
                     finite_differences=False)]

    def random_cases(self, rng):
        cases = []
        for index, shape in enumerate([(3, 4), (2, 3, 5, 5), (7,)]):
            x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)  # off the kink
            cases.append(Case(f"random {index + 1}: shape {shape}",
                              {"x": x, "grad_output": rng.standard_normal(shape)}, shape[0]))
        return cases

    def torch_forward(self, torch, x, case):
        return torch.relu(x)

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        if functions is not None:
            replace_layers(model, ReLU, lambda _: FunctionLayer(functions.relu_forward,
                                                                functions.relu_backward))
        return ModuleTrainee(model)
