"""Exercise ``conv2d``: the convolution's forward and backward, from im2col and col2im."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.checks.im2col import window_coverage
from minicnn.exercises.exercise import Case
from minicnn.exercises.layer_exercise import ParameterLayerExercise
from minicnn.exercises.layers import ParameterLayer, replace_layers
from minicnn.exercises.mistakes import (
    BATCH_SIZE,
    BIAS_NOT_SUMMED,
    SIGN_FLIPPED,
    TRANSPOSED_WEIGHT,
    Mistake,
    matches,
    overlap_overwritten,
)
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import conv as functional
from minicnn.models.lenet import LeNet5
from minicnn.nn.conv import Conv2d
from minicnn.random import manual_seed

__all__ = ["Conv2dExercise", "conv2d_backward", "conv2d_forward"]


def conv2d_forward(x, weight, bias, stride=1, padding=0):
    """Reference: minicnn's :func:`~minicnn.functional.conv2d_forward`, caching ``cols``."""
    out, cols = functional.conv2d_forward(x, weight, bias, stride, padding)
    return out, (x, weight, stride, padding, cols)


def conv2d_backward(grad_output, cache):
    """Reference: minicnn's :func:`~minicnn.functional.conv2d_backward`."""
    x, weight, stride, padding, cols = cache
    return functional.conv2d_backward(grad_output, x, weight, stride, padding, cols=cols)


def _kernel_flipped(actual, expected, case, tensor) -> bool:
    inputs = case.inputs
    flipped = inputs["weight"][:, :, ::-1, ::-1]
    if tensor == "out":
        return matches(actual, conv2d_forward(inputs["x"], flipped, inputs["bias"],
                                              inputs["stride"], inputs["padding"])[0])
    return tensor == "grad_weight" and matches(actual, expected[:, :, ::-1, ::-1])


def _input_coverage(case) -> np.ndarray:
    x, padding = case.inputs["x"], case.inputs["padding"]
    kernel_size = case.inputs["weight"].shape[2]
    padded = (*x.shape[:2], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding)
    coverage = window_coverage(padded, kernel_size, case.inputs["stride"])
    return coverage[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]]


def conv_case(label: str, rng: np.random.Generator, n: int, in_channels: int,
              out_channels: int, size: tuple[int, int], kernel_size: int, stride: int,
              padding: int) -> Case:
    x = rng.standard_normal((n, in_channels, *size))
    weight = rng.standard_normal((out_channels, in_channels, kernel_size, kernel_size))
    bias = rng.standard_normal(out_channels)
    out = functional.conv2d(x, weight, bias, stride, padding)
    return Case(label, {"x": x, "weight": weight, "bias": bias, "stride": stride,
                        "padding": padding, "grad_output": rng.standard_normal(out.shape)}, n)


class Conv2dExercise(ParameterLayerExercise):
    name = "conv2d"
    title = "Conv2d forward and backward"
    functions = ("conv2d_forward", "conv2d_backward")
    settings = ("stride", "padding")
    reference = sys.modules[__name__]
    mistakes = (
        BIAS_NOT_SUMMED,
        TRANSPOSED_WEIGHT,
        Mistake("kernel flipped",
                "PyTorch's Conv2d is a cross-correlation: weight[o, c, ky, kx] multiplies "
                "x[n, c, oy*stride + ky, ox*stride + kx], the kernel is not rotated",
                ("out", "grad_weight"), _kernel_flipped),
        overlap_overwritten(_input_coverage, "grad_input"),
        SIGN_FLIPPED,
        BATCH_SIZE,
    )

    def fixed_cases(self):
        rng = np.random.default_rng(11)
        return [
            conv_case("fixed: N=2, 3 -> 4 channels, 3x3, stride 1, padding 1", rng, 2, 3, 4,
                      (5, 6), 3, 1, 1),
            conv_case("fixed: N=3, 2 -> 2 channels, 3x3, stride 2, no padding", rng, 3, 2, 2,
                      (7, 7), 3, 2, 0),
        ]

    def random_cases(self, rng):
        cases = []
        for index in range(3):
            kernel_size, stride, padding = (int(rng.integers(1, 4)), int(rng.integers(1, 3)),
                                            int(rng.integers(0, 3)))
            n, c_in, c_out = (int(v) for v in rng.integers(1, 4, 3))
            size = (int(rng.integers(kernel_size, 8)), int(rng.integers(kernel_size, 8)))
            cases.append(conv_case(
                f"random {index + 1}: N={n}, {c_in} -> {c_out} channels, {size}, "
                f"{kernel_size}x{kernel_size}, stride {stride}, padding {padding}",
                rng, n, c_in, c_out, size, kernel_size, stride, padding))
        return cases

    def torch_forward(self, torch, x, weight, bias, case):
        return torch.nn.functional.conv2d(x, weight, bias, case.inputs["stride"],
                                          case.inputs["padding"])

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        if functions is not None:
            replace_layers(model, Conv2d, lambda layer: ParameterLayer(
                layer, functions.conv2d_forward, functions.conv2d_backward, layer.stride[0],
                layer.padding[0]))
        return ModuleTrainee(model)
