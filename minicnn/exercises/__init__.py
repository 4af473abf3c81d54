"""Exercises: write the backward passes yourself, and have them checked.

``minicnn exercises init DIR`` writes a workbook of stub files into ``DIR``: ReLU, Linear,
softmax cross-entropy, im2col and col2im, Conv2d, max and average pooling, BatchNorm, a
residual block, the SGD-with-momentum and Adam updates, and a whole LeNet-5 training step from
those pieces. ``minicnn exercises check DIR [NAME]`` loads the learner's files (and only
theirs), checks each function's shapes, values against minicnn's reference, gradients against
finite differences and values against PyTorch, on fixed and random inputs, names the first
wrong element and the classic mistake that fits it, and trains LeNet-5 on MNIST with each
function that passes.

From Python::

    from minicnn.exercises import check_workbook, format_results, init_workbook

    init_workbook("my-workbook")
    results = check_workbook("my-workbook", ["relu"], training=None)
    print(format_results(results))
"""

from minicnn.exercises.catalog import EXERCISES, exercise_named
from minicnn.exercises.runner import (
    STAGES,
    ExerciseResult,
    TrainingSettings,
    check_workbook,
    format_results,
)
from minicnn.exercises.workbook import Workbook, init_workbook, load_workbook

__all__ = [
    "EXERCISES",
    "STAGES",
    "ExerciseResult",
    "TrainingSettings",
    "Workbook",
    "check_workbook",
    "exercise_named",
    "format_results",
    "init_workbook",
    "load_workbook",
]
