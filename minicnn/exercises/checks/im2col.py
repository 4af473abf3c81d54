"""Exercise ``im2col``: unrolling windows into columns, and its adjoint col2im."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.exercise import Case, Exercise, gradcheck_function
from minicnn.exercises.layers import ParameterLayer, replace_layers
from minicnn.exercises.mistakes import SIGN_FLIPPED, overlap_overwritten
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import conv as functional
from minicnn.models.lenet import LeNet5
from minicnn.nn.conv import Conv2d
from minicnn.random import manual_seed

__all__ = [
    "Im2colExercise",
    "case_coverage",
    "col2im",
    "conv2d_from",
    "im2col",
    "window_coverage",
]


def im2col(x_padded, kernel_size, stride):
    """Reference: minicnn's :func:`~minicnn.functional.im2col`."""
    return functional.im2col(x_padded, kernel_size, stride)


def col2im(cols, padded_shape, stride):
    """Reference: minicnn's :func:`~minicnn.functional.col2im`."""
    return functional.col2im(cols, padded_shape, stride)


def window_coverage(shape, kernel_size: int, stride: int) -> np.ndarray:
    """How many ``kernel_size`` windows of step ``stride`` cover each element of ``shape``."""
    ones = np.ones(im2col(np.zeros(shape), kernel_size, stride).shape)
    return col2im(ones, shape, stride)


def conv2d_from(im2col_fn, col2im_fn):
    """A convolution ``(forward, backward)`` pair with the exercises' signatures, built on the
    given im2col and col2im (with zero padding): the LeNet-5 stage of ``im2col``."""

    def conv2d_forward(x, weight, bias, stride=1, padding=0):
        padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        cols = im2col_fn(padded, weight.shape[2], stride)
        n, _, _, _, out_h, out_w = cols.shape
        out = np.matmul(weight.reshape(weight.shape[0], -1),
                        cols.reshape(n, -1, out_h * out_w))
        out = out.reshape(n, -1, out_h, out_w) + bias.reshape(1, -1, 1, 1)
        return out, (x.shape, weight, cols, stride, padding)

    def conv2d_backward(grad_output, cache):
        x_shape, weight, cols, stride, padding = cache
        n, _, out_h, out_w = grad_output.shape
        grad_rows = grad_output.reshape(n, weight.shape[0], out_h * out_w)
        grad_weight = np.matmul(grad_rows, cols.reshape(n, -1, out_h * out_w)
                                .transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
        grad_cols = np.matmul(weight.reshape(weight.shape[0], -1).T, grad_rows)
        padded_shape = (*x_shape[:2], x_shape[2] + 2 * padding, x_shape[3] + 2 * padding)
        grad_padded = col2im_fn(grad_cols.reshape(cols.shape), padded_shape, stride)
        grad_input = grad_padded[:, :, padding:padding + x_shape[2],
                                 padding:padding + x_shape[3]]
        return grad_input, grad_weight, grad_output.sum(axis=(0, 2, 3))

    return conv2d_forward, conv2d_backward


def im2col_case(label: str, rng: np.random.Generator, shape, kernel_size: int,
                stride: int) -> Case:
    x = rng.standard_normal(shape)
    cols_shape = im2col(x, kernel_size, stride).shape
    return Case(label, {"x": x, "kernel_size": kernel_size, "stride": stride,
                        "grad_cols": rng.standard_normal(cols_shape)}, shape[0])


def case_coverage(case: Case) -> np.ndarray:
    """:func:`window_coverage` of a case's ``x`` with its ``kernel_size`` and ``stride``."""
    return window_coverage(case.inputs["x"].shape, case.inputs["kernel_size"],
                           case.inputs["stride"])


class Im2colExercise(Exercise):
    name = "im2col"
    title = "im2col and col2im"
    functions = ("im2col", "col2im")
    reference = sys.modules[__name__]
    mistakes = (overlap_overwritten(case_coverage, "col2im"), SIGN_FLIPPED)

    def fixed_cases(self):
        rng = np.random.default_rng(5)
        return [im2col_case("fixed: 3x3 windows, stride 1 (overlapping)", rng, (2, 2, 5, 6), 3, 1),
                im2col_case("fixed: 2x2 windows, stride 2 (side by side)", rng, (2, 3, 4, 4), 2, 2),
                im2col_case("fixed: 3x3 windows, stride 2 (a row left over)", rng, (1, 2, 6, 7),
                            3, 2)]

    def random_cases(self, rng):
        cases = []
        for index in range(3):
            kernel_size, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                     kernel_size + int(rng.integers(0, 5)), kernel_size + int(rng.integers(0, 5)))
            cases.append(im2col_case(f"random {index + 1}: {shape}, {kernel_size}x{kernel_size} "
                                     f"windows, stride {stride}", rng, shape, kernel_size, stride))
        return cases

    def run(self, functions, case):
        inputs = case.inputs
        return {"im2col": functions.im2col(inputs["x"], inputs["kernel_size"], inputs["stride"]),
                "col2im": functions.col2im(inputs["grad_cols"], inputs["x"].shape,
                                           inputs["stride"])}

    def finite_differences(self, functions, case):
        # im2col is linear, so its backward (its adjoint) is col2im: the finite differences
        # of the learner's im2col check the learner's col2im.
        inputs = case.inputs
        return gradcheck_function(
            lambda x: functions.im2col(x, inputs["kernel_size"], inputs["stride"]),
            lambda grad, x: functions.col2im(grad, x.shape, inputs["stride"]),
            [inputs["x"]], ["col2im"], inputs["grad_cols"])

    def torch_outputs(self, torch, case):
        inputs = case.inputs
        x, k, s = inputs["x"], inputs["kernel_size"], inputs["stride"]
        cols_shape = inputs["grad_cols"].shape
        unfolded = torch.nn.functional.unfold(torch.tensor(x), k, stride=s)
        folded = torch.nn.functional.fold(
            torch.tensor(inputs["grad_cols"]).reshape(x.shape[0], -1,
                                                      cols_shape[4] * cols_shape[5]),
            x.shape[2:], k, stride=s)
        return {"im2col": unfolded.reshape(cols_shape).numpy(), "col2im": folded.numpy()}

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = LeNet5()
        if functions is not None:
            forward, backward = conv2d_from(functions.im2col, functions.col2im)
            replace_layers(model, Conv2d, lambda layer: ParameterLayer(
                layer, forward, backward, layer.stride[0], layer.padding[0]))
        return ModuleTrainee(model)
