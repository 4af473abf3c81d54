"""Exercise ``batch_norm``: batch normalisation in training mode, through the statistics."""

from __future__ import annotations

import sys

import numpy as np

from minicnn.exercises.exercise import Case
from minicnn.exercises.layer_exercise import ParameterLayerExercise
from minicnn.exercises.layers import LearnerBatchNorm2d
from minicnn.exercises.mistakes import BATCH_SIZE, BIAS_NOT_SUMMED, SIGN_FLIPPED, Mistake, matches
from minicnn.exercises.training import ModuleTrainee
from minicnn.functional import normalization as functional
from minicnn.models.lenet import LeNet5
from minicnn.nn.container import Sequential
from minicnn.nn.normalization import BatchNorm2d
from minicnn.random import manual_seed

__all__ = ["BatchNormExercise", "batch_norm_backward", "batch_norm_forward", "lenet5_batch_norm"]


def batch_norm_forward(x, weight, bias, eps=1e-5):
    """Reference: minicnn's :func:`~minicnn.functional.batch_norm` in training mode."""
    out, x_hat, inv_std = functional.batch_norm_forward(x, None, None, weight, bias,
                                                        training=True, eps=eps)
    return out, (x_hat, inv_std, weight)


def batch_norm_backward(grad_output, cache):
    """Reference: minicnn's :func:`~minicnn.functional.batch_norm_backward`."""
    x_hat, inv_std, weight = cache
    return functional.batch_norm_backward(grad_output, x_hat, inv_std, weight, training=True)


def _input_gradient_variants(case: Case) -> dict[str, np.ndarray]:
    """Wrong input gradients: the statistics held constant; averaged over N only."""
    inputs = case.inputs
    x, weight, grad = inputs["x"], inputs["weight"], inputs["grad_output"]
    _, (x_hat, inv_std, _) = batch_norm_forward(x, weight, inputs["bias"], inputs["eps"])
    scale = (weight * inv_std).reshape(1, -1, 1, 1)
    grad_bias = grad.sum(axis=(0, 2, 3)).reshape(1, -1, 1, 1)
    grad_weight = (grad * x_hat).sum(axis=(0, 2, 3)).reshape(1, -1, 1, 1)
    n = x.shape[0]
    return {"constant statistics": grad * scale,
            "over N only": scale * (grad - grad_bias / n - x_hat * grad_weight / n)}


def _constant_statistics(actual, expected, case, tensor) -> bool:
    return matches(actual, _input_gradient_variants(case)["constant statistics"])


def _averaged_over_batch_only(actual, expected, case, tensor) -> bool:
    return matches(actual, _input_gradient_variants(case)["over N only"])


def bn_case(label: str, rng: np.random.Generator, shape) -> Case:
    channels = shape[1]
    return Case(label, {"x": rng.standard_normal(shape) * 2 + 1,
                        "weight": rng.uniform(0.5, 1.5, channels),
                        "bias": rng.standard_normal(channels), "eps": 1e-5,
                        "grad_output": rng.standard_normal(shape)}, shape[0])


def lenet5_batch_norm() -> LeNet5:
    """LeNet-5 with a BatchNorm2d after each convolution (before its ReLU)."""
    model = LeNet5()
    conv1, relu1, pool1, conv2, relu2, pool2 = model.features
    model.features = Sequential(conv1, BatchNorm2d(6), relu1, pool1,
                                conv2, BatchNorm2d(16), relu2, pool2)
    return model


class BatchNormExercise(ParameterLayerExercise):
    name = "batch_norm"
    title = "BatchNorm2d forward and backward (training mode)"
    functions = ("batch_norm_forward", "batch_norm_backward")
    settings = ("eps",)
    reference = sys.modules[__name__]
    mistakes = (
        Mistake("batch statistics treated as constants",
                "that is the evaluation-mode gradient. In training the mean and the variance "
                "are computed from the batch, so every x of a channel moves them: chain "
                "through both (two more terms, the means of g and of g * x_hat)",
                ("grad_input",), _constant_statistics),
        Mistake("gradient off by the batch size",
                "your means divide by N, but a channel's statistics are taken over its m = "
                "N*H*W values (every sample and every position): divide by m",
                ("grad_input",), _averaged_over_batch_only),
        BIAS_NOT_SUMMED,
        SIGN_FLIPPED,
        BATCH_SIZE,
    )

    def fixed_cases(self):
        rng = np.random.default_rng(31)
        return [bn_case("fixed: N=4, 3 channels, 2x3", rng, (4, 3, 2, 3)),
                bn_case("fixed: N=2, 2 channels, 3x3", rng, (2, 2, 3, 3))]

    def random_cases(self, rng):
        return [bn_case(f"random {index + 1}: {shape}", rng, shape)
                for index, shape in enumerate(
                    (int(rng.integers(2, 5)), int(rng.integers(1, 4)),
                     int(rng.integers(1, 4)), int(rng.integers(1, 4))) for _ in range(3))]

    def torch_forward(self, torch, x, weight, bias, case):
        return torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True,
                                              eps=case.inputs["eps"])

    def trainee(self, functions, seed):
        manual_seed(seed)
        model = lenet5_batch_norm()
        if functions is not None:
            for index in (1, 5):
                setattr(model.features, str(index), LearnerBatchNorm2d(
                    model.features[index], functions.batch_norm_forward,
                    functions.batch_norm_backward))
        return ModuleTrainee(model)
