"""The exercises, in the order of the course."""

from __future__ import annotations

from minicnn.exercises.checks.adam import AdamExercise
from minicnn.exercises.checks.avg_pool2d import AvgPool2dExercise
from minicnn.exercises.checks.batch_norm import BatchNormExercise
from minicnn.exercises.checks.conv2d import Conv2dExercise
from minicnn.exercises.checks.im2col import Im2colExercise
from minicnn.exercises.checks.lenet5_step import LeNet5StepExercise
from minicnn.exercises.checks.linear import LinearExercise
from minicnn.exercises.checks.max_pool2d import MaxPool2dExercise
from minicnn.exercises.checks.relu import ReLUExercise
from minicnn.exercises.checks.residual import ResidualExercise
from minicnn.exercises.checks.sgd_momentum import SGDMomentumExercise
from minicnn.exercises.checks.softmax_cross_entropy import SoftmaxCrossEntropyExercise
from minicnn.exercises.exercise import Exercise

__all__ = ["EXERCISES", "exercise_named"]

EXERCISES: tuple[Exercise, ...] = (
    ReLUExercise(),
    LinearExercise(),
    SoftmaxCrossEntropyExercise(),
    Im2colExercise(),
    Conv2dExercise(),
    MaxPool2dExercise(),
    AvgPool2dExercise(),
    BatchNormExercise(),
    ResidualExercise(),
    SGDMomentumExercise(),
    AdamExercise(),
    LeNet5StepExercise(),
)


def exercise_named(name: str) -> Exercise:
    """The exercise called ``name``; ``KeyError`` listing the names otherwise."""
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    raise KeyError(f"no exercise {name!r}; the exercises are "
                   f"{', '.join(exercise.name for exercise in EXERCISES)}")
