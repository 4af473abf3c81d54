"""Exercise ``max_pool2d``: max pooling, and its backward with PyTorch's rule for ties."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.checks.im2col import case_coverage, col2im, im2col
from minicnn.exercises.exercise import Case
from minicnn.exercises.layer_exercise import InputLayerExercise
from minicnn.exercises.layers import FunctionLayer, replace_layers
from minicnn.exercises.mistakes import (
    BATCH_SIZE,
    SIGN_FLIPPED,
    Mistake,
    overlap_overwritten,
    wrong_only_where,
)
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import pooling as functional
from minicnn.models.lenet import LeNet5
from minicnn.nn.pooling import MaxPool2d
from minicnn.random import manual_seed

__all__ = [
    "MaxPool2dExercise",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "pool_case",
    "random_pool_cases",
]


def max_pool2d_forward(x, kernel_size, stride):
    """Reference: minicnn's :func:`~minicnn.functional.max_pool2d`, keeping the indices."""
    out, indices = functional.max_pool2d(x, kernel_size, stride, return_indices=True)
    return out, (indices, x.shape)


def max_pool2d_backward(grad_output, cache):
    """Reference: minicnn's :func:`~minicnn.functional.max_pool2d_backward`."""
    indices, input_shape = cache
    return functional.max_pool2d_backward(grad_output, indices, input_shape)


def _in_tied_windows(case) -> np.ndarray:
    """Elements that belong to a window whose maximum is reached more than once."""
    x, k, s = case.inputs["x"], case.inputs["kernel_size"], case.inputs["stride"]
    windows = im2col(x, k, s)  # (N, C, k, k, H_out, W_out)
    best = windows.max(axis=(2, 3), keepdims=True)
    tied = ((windows == best).sum(axis=(2, 3), keepdims=True) > 1)
    return col2im(np.broadcast_to(tied, windows.shape).astype(float), x.shape, s) > 0


def pool_case(label: str, x: np.ndarray, kernel_size: int, stride: int,
              rng: np.random.Generator, finite_differences: bool = True) -> Case:
    out_shape = im2col(x, kernel_size, stride).shape
    grad = rng.standard_normal((*out_shape[:2], *out_shape[4:]))
    return Case(label, {"x": x, "kernel_size": kernel_size, "stride": stride,
                        "grad_output": grad}, x.shape[0], finite_differences)


def random_pool_cases(rng: np.random.Generator, values) -> list[Case]:
    """Three random pooling cases: window 1-3, stride 1-3, ``values(rng, shape)`` as input."""
    cases = []
    for index in range(3):
        k, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                 k + int(rng.integers(0, 5)), k + int(rng.integers(0, 5)))
        cases.append(pool_case(f"random {index + 1}: {shape}, {k}x{k} windows, stride {s}",
                               values(rng, shape), k, s, rng))
    return cases


def distinct_values(rng: np.random.Generator, shape) -> np.ndarray:
    """A shuffled grid with gaps of 0.1: no two elements of a window within eps of a tie."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size / 2).reshape(shape) * 0.1


class MaxPool2dExercise(InputLayerExercise):
    name = "max_pool2d"
    title = "MaxPool2d forward and backward (ties to the first maximum)"
    functions = ("max_pool2d_forward", "max_pool2d_backward")
    settings = ("kernel_size", "stride")
    reference = sys.modules[__name__]
    mistakes = (
        Mistake("ties routed to the wrong maximum",
                "yours is wrong only in windows whose maximum appears more than once. PyTorch "
                "(and minicnn) give such a window's whole gradient to its first maximum in "
                "row-major order (top row first, left to right): not the last, not every tied "
                "element, not a share of it",
                ("grad_input",),
                lambda actual, expected, case, tensor: wrong_only_where(
                    actual, expected, _in_tied_windows(case))),
        overlap_overwritten(case_coverage, "grad_input"),
        SIGN_FLIPPED,
        BATCH_SIZE,
    )

    def fixed_cases(self):
        rng = np.random.default_rng(23)
        # After a ReLU: zeros everywhere, so most windows tie at 0; one tie at 2.0 too.
        tied = np.maximum(np.round(rng.standard_normal((2, 2, 4, 4)), 0), 0)
        tied[0, 0, :2, :2] = [[2.0, 1.0], [0.5, 2.0]]
        overlapping_ties = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 0.0, 1.0, 3.0],
                                       [0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 2.0, 2.0]]]])
        return [
            pool_case("fixed: ties, 2x2 windows, stride 2", tied, 2, 2, rng, False),
            pool_case("fixed: ties, overlapping 2x2 windows, stride 1", overlapping_ties, 2, 1,
                      rng, False),
            pool_case("fixed: distinct values, overlapping 3x3 windows, stride 2",
                      distinct_values(rng, (2, 3, 7, 7)), 3, 2, rng),
        ]

    def random_cases(self, rng):
        return random_pool_cases(rng, distinct_values)

    def torch_forward(self, torch, x, case):
        return torch.nn.functional.max_pool2d(x, case.inputs["kernel_size"],
                                              case.inputs["stride"])

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        if functions is not None:
            replace_layers(model, MaxPool2d, lambda layer: FunctionLayer(
                functions.max_pool2d_forward, functions.max_pool2d_backward,
                layer.kernel_size, layer.stride))
        return ModuleTrainee(model)
