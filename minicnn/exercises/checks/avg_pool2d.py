"""Exercise ``avg_pool2d``: average pooling's forward and backward."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.checks.im2col import case_coverage
from minicnn.exercises.checks.max_pool2d import pool_case, random_pool_cases
from minicnn.exercises.layer_exercise import InputLayerExercise
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


class AvgPool2dExercise(InputLayerExercise):
    name = "avg_pool2d"
    title = "AvgPool2d forward and backward"
    functions = ("avg_pool2d_forward", "avg_pool2d_backward")
    settings = ("kernel_size", "stride")
    reference = sys.modules[__name__]
    mistakes = (overlap_overwritten(case_coverage, "grad_input"), SIGN_FLIPPED, BATCH_SIZE)

    def fixed_cases(self):
        rng = np.random.default_rng(29)
        return [
            pool_case("fixed: overlapping 3x3 windows, stride 1",
                      rng.standard_normal((2, 2, 5, 5)), 3, 1, rng),
            pool_case("fixed: 2x2 windows, stride 2, a row and a column left over",
                      rng.standard_normal((3, 2, 5, 5)), 2, 2, rng),
        ]

    def random_cases(self, rng):
        return random_pool_cases(rng, lambda rng, shape: rng.standard_normal(shape))

    def torch_forward(self, torch, x, case):
        return torch.nn.functional.avg_pool2d(x, case.inputs["kernel_size"],
                                              case.inputs["stride"])

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5(variant="original")  # tanh and average pooling, as in the paper
        if functions is not None:
            replace_layers(model, AvgPool2d, lambda layer: FunctionLayer(
                functions.avg_pool2d_forward, functions.avg_pool2d_backward,
                layer.kernel_size, layer.stride))
        return ModuleTrainee(model)
