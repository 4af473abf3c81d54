"""The exercises, in the order of the course."""

from __future__ import annotations

from minicnn.exercises.checks.relu import ReLUExercise
from minicnn.exercises.exercise import Exercise

__all__ = ["EXERCISES", "exercise_named"]

EXERCISES: tuple[Exercise, ...] = (
    ReLUExercise(),
)


def exercise_named(name: str) -> Exercise:
    """The exercise called ``name``; ``KeyError`` listing the names otherwise."""
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    raise KeyError(f"no exercise {name!r}; the exercises are "
                   f"{', '.join(exercise.name for exercise in EXERCISES)}")
