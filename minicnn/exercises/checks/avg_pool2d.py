"""Exercise ``avg_pool2d``: average pooling's forward and backward."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.checks.im2col import window_coverage
from minicnn.exercises.checks.max_pool2d import pool_case
from minicnn.exercises.exercise import Case, Exercise, gradcheck_function, unpack
from minicnn.exercises.layers import FunctionLayer, replace_layers
from minicnn.exercises.mistakes import BATCH_SIZE, SIGN_FLIPPED, overlap_overwritten
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import pooling as functional
from minicnn.models.lenet import LeNet5
from minicnn.nn.pooling import AvgPool2d
from minicnn.random import manual_seed

__all__ = ["AvgPool2dExercise", "avg_pool2d_backward", "avg_pool2d_forward"]


def avg_pool2d_forward(x, kernel_size, stride):
    """Reference: minicnn's :func:`~minicnn.functional.avg_pool2d`."""
    return functional.avg_pool2d(x, kernel_size, stride), (x.shape, kernel_size, stride)


def avg_pool2d_backward(grad_output, cache):
    """Reference: minicnn's :func:`~minicnn.functional.avg_pool2d_backward`."""
    input_shape, kernel_size, stride = cache
    return functional.avg_pool2d_backward(grad_output, input_shape, kernel_size, stride)


def _coverage(case: Case) -> np.ndarray:
    return window_coverage(case.inputs["x"].shape, case.inputs["kernel_size"],
                           case.inputs["stride"])


class AvgPool2dExercise(Exercise):
    name = "avg_pool2d"
    title = "AvgPool2d forward and backward"
    functions = ("avg_pool2d_forward", "avg_pool2d_backward")
    reference = sys.modules[__name__]
    mistakes = (overlap_overwritten(_coverage, "grad_input"), SIGN_FLIPPED, BATCH_SIZE)

    def fixed_cases(self):
        rng = np.random.default_rng(29)
        return [
            pool_case("fixed: overlapping 3x3 windows, stride 1",
                      rng.standard_normal((2, 2, 5, 5)), 3, 1, rng),
            pool_case("fixed: 2x2 windows, stride 2, a row and a column left over",
                      rng.standard_normal((3, 2, 5, 5)), 2, 2, rng),
        ]

    def random_cases(self, rng):
        cases = []
        for index in range(3):
            k, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                     k + int(rng.integers(0, 5)), k + int(rng.integers(0, 5)))
            cases.append(pool_case(f"random {index + 1}: {shape}, {k}x{k} windows, stride {s}",
                                   rng.standard_normal(shape), k, s, rng))
        return cases

    def run(self, functions, case):
        inputs = case.inputs
        out, cache = unpack(functions.avg_pool2d_forward(inputs["x"], inputs["kernel_size"],
                                                         inputs["stride"]),
                            2, "avg_pool2d_forward", "(out, cache)")
        return {"out": out, "grad_input": functions.avg_pool2d_backward(inputs["grad_output"],
                                                                        cache)}

    def finite_differences(self, functions, case):
        k, s = case.inputs["kernel_size"], case.inputs["stride"]
        return gradcheck_function(
            lambda x: functions.avg_pool2d_forward(x, k, s),
            lambda grad, x: functions.avg_pool2d_backward(
                grad, functions.avg_pool2d_forward(x, k, s)[1]),
            [case.inputs["x"]], ["grad_input"], case.inputs["grad_output"])

    def torch_outputs(self, torch, case):
        x = torch.tensor(case.inputs["x"], requires_grad=True)
        out = torch.nn.functional.avg_pool2d(x, case.inputs["kernel_size"],
                                             case.inputs["stride"])
        out.backward(torch.tensor(case.inputs["grad_output"]))
        return {"out": out.detach().numpy(), "grad_input": x.grad.numpy()}

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5(variant="original")  # tanh and average pooling, as in the paper
        if functions is not None:
            replace_layers(model, AvgPool2d, lambda layer: FunctionLayer(
                functions.avg_pool2d_forward, functions.avg_pool2d_backward,
                layer.kernel_size, layer.stride))
        return ModuleTrainee(model)
