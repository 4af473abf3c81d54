"""Fixtures for the exercise tests: workbooks written into temporary folders."""

from __future__ import annotations

import pytest

from minicnn.exercises import EXERCISES, init_workbook


def reference_solution(name: str) -> str:
    """A workbook file that answers exercise ``name`` with minicnn's reference functions."""
    exercise = next(exercise for exercise in EXERCISES if exercise.name == name)
    return (f"from minicnn.exercises.checks.{name} import "
            f"{', '.join(exercise.functions)}  # noqa: F401\n")


@pytest.fixture
def stub_workbook(tmp_path):
    """A fresh workbook of stubs, as ``minicnn exercises init`` writes it."""
    folder = tmp_path / "workbook"
    init_workbook(folder)
    return folder


@pytest.fixture
def solved_workbook(stub_workbook):
    """A workbook whose every file holds minicnn's reference solution."""
    for exercise in EXERCISES:
        (stub_workbook / f"{exercise.name}.py").write_text(reference_solution(exercise.name))
    return stub_workbook
