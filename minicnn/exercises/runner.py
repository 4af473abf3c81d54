"""``check``: every stage of every exercise on the learner's workbook, and the progress table."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from minicnn import random as minicnn_random
from minicnn.exercises.exercise import ContractError, Exercise, Failure, learner_error
from minicnn.exercises.training import (
    ACCURACY_MARGIN,
    TrainingData,
    TrainingRun,
    load_training_data,
    train,
)
from minicnn.exercises.workbook import Workbook, load_workbook
from minicnn.gradient_check import format_table

__all__ = ["STAGES", "ExerciseResult", "TrainingSettings", "check_workbook", "format_results"]

STAGES = ("shapes", "reference", "finite differences", "PyTorch", "LeNet-5 on MNIST")


@dataclass(frozen=True)
class TrainingSettings:
    """The LeNet-5 stage: ``steps`` of ``batch_size`` images, at most ``time_budget`` seconds
    per network; ``steps=0`` skips the stage. MNIST comes from ``data_dir``, else
    ``$MINICNN_MNIST_DIR``, else the cache (downloaded once)."""

    steps: int = 300
    batch_size: int = 32
    time_budget: float | None = 120.0
    data_dir: str | None = None
    progress: bool = True


@dataclass
class ExerciseResult:
    """What ``check`` found for one exercise.

    Attributes:
        name, title: the exercise's.
        status: ``"passed"``, ``"failed"``, ``"not implemented yet"`` or ``"error"``.
        stages: each stage's outcome: ``"ok"``, ``"FAIL"``, ``"n/a"``, ``"skipped"`` or ``""``
            (not reached); the LeNet-5 stage shows the accuracy.
        failure: the first failure, with the wrong element and the mistake that fits it.
        message: for ``"not implemented yet"`` and ``"error"``, what the learner's code raised.
        training: the learner's LeNet-5 run and its twin's (minicnn's own layers).
        note: why a stage was skipped (no PyTorch, no MNIST).
    """

    name: str
    title: str
    status: str = "passed"
    stages: dict[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    message: str = ""
    training: tuple[TrainingRun, TrainingRun] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def describe(self) -> str:
        """The result as the lines printed after the exercise is checked."""
        head = f"{self.name}: {self.status}"
        if self.status == "passed" and self.training is not None:
            mine, twin = self.training
            head += (f" (LeNet-5 trained {mine.steps} steps with your code: loss "
                     f"{mine.first_loss:.3f} -> {mine.last_loss:.3f}, test accuracy "
                     f"{mine.accuracy:.1%}; with minicnn's layers {twin.accuracy:.1%})")
        lines = [head]
        if self.message:
            lines.append("  " + self.message)
        if self.failure is not None:
            lines.append("  " + self.failure.describe().replace("\n", "\n  "))
        lines += ["  note: " + note for note in self.notes]
        return "\n".join(lines)


def _import_torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


class _StopExercise(Exception):  # noqa: N818 (a signal, not an error)
    """Ends an exercise's stages early (a failure or an error, already recorded)."""


def _run_stage(result: ExerciseResult, stage: str, check, workbook: Path) -> None:
    """Run one stage's ``check()``: record ``ok``, or the failure and stop the exercise."""
    try:
        failure = check()
    except ContractError as error:
        failure = Failure(stage, "", message=str(error))
    except Exception as error:
        problem = learner_error(error, workbook)
        if problem is None:
            raise
        result.stages[stage] = "FAIL"
        result.status = "not implemented yet" if problem.not_implemented else "error"
        result.message = str(problem)
        raise _StopExercise from error
    if failure is not None:
        result.stages[stage] = "FAIL"
        result.status = "failed"
        result.failure = failure
        raise _StopExercise
    result.stages[stage] = "ok"


def _check_numbers(exercise: Exercise, functions, result: ExerciseResult, torch,
                   rng: np.random.Generator, workbook: Path) -> None:
    fixed = exercise.fixed_cases()
    cases = fixed + exercise.random_cases(rng)
    _run_stage(result, "shapes", lambda: exercise.check_shapes(functions, fixed), workbook)
    _run_stage(result, "reference", lambda: exercise.check_reference(functions, cases),
               workbook)
    if any(case.finite_differences for case in cases) and exercise.has_backward:
        _run_stage(result, "finite differences",
                   lambda: exercise.check_finite_differences(functions, cases), workbook)
    else:
        result.stages["finite differences"] = "n/a"
    if torch is None:
        result.stages["PyTorch"] = "skipped"
        result.notes.append("PyTorch is not installed (or use_torch=False), so the comparison "
                            "with it was skipped")
    else:
        _run_stage(result, "PyTorch", lambda: exercise.check_torch(torch, functions, cases),
                   workbook)


def _train(exercise: Exercise, functions, result: ExerciseResult, data: TrainingData,
           settings: TrainingSettings, seed: int, workbook: Path) -> None:
    stage = "LeNet-5 on MNIST"
    bar = None
    if settings.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=settings.steps, desc=f"{exercise.name}: LeNet-5 with your code",
                   leave=False, file=sys.stderr)

    def progress(step, loss):
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    try:
        mine = train(exercise.trainee(functions, seed), data, settings.steps,
                     settings.batch_size, seed, settings.time_budget,
                     progress if bar is not None else None)
    except Exception as error:
        problem = learner_error(error, workbook)
        if problem is None and not isinstance(error, ContractError):
            raise
        result.stages[stage] = "FAIL"
        result.status = "error"
        result.message = f"while training LeNet-5: {problem or error}"
        return
    finally:
        if bar is not None:
            bar.close()
    twin = train(exercise.trainee(None, seed), data, mine.steps, settings.batch_size, seed)
    result.training = (mine, twin)
    if mine.steps < settings.steps:
        result.notes.append(
            f"training stopped at the time budget after {mine.steps} of {settings.steps} steps "
            f"({mine.seconds / mine.steps * 1000:.0f} ms a step with your code against "
            f"{twin.seconds / twin.steps * 1000:.0f} ms with minicnn's layers)")
    if mine.nonfinite_step is not None:
        message = (f"the training loss became non-finite at step {mine.nonfinite_step} "
                   "(minicnn's layers stay finite on the same batches)")
    elif mine.accuracy < twin.accuracy - ACCURACY_MARGIN:
        message = (f"LeNet-5 with your code reached {mine.accuracy:.1%} test accuracy, "
                   f"minicnn's layers {twin.accuracy:.1%} on the same batches from the same "
                   "weights: something that the checks on small inputs did not see differs")
    else:
        result.stages[stage] = f"{mine.accuracy:.1%}"
        return
    result.stages[stage] = "FAIL"
    result.status = "failed"
    result.failure = Failure("training", "", message=message)


def check_workbook(directory, names=None, *, seed: int = 0,
                   training: TrainingSettings | None = TrainingSettings(),
                   use_torch: bool = True, out: TextIO | None = None) -> list[ExerciseResult]:
    """Check the learner's workbook: every stage of each exercise named (default: all).

    Args:
        directory: the workbook's folder.
        names: exercise names to check, in any order; ``None`` for all, in course order.
        seed: seeds the random cases, the weights and the batches.
        training: the LeNet-5 stage's settings; ``None`` skips it.
        use_torch: compare with PyTorch when it is installed.
        out: where each exercise's result is printed as it is checked (``None``: nowhere).

    Returns:
        One :class:`ExerciseResult` per exercise checked, in course order.
    """
    from minicnn.exercises.catalog import EXERCISES, exercise_named

    selected = EXERCISES if names is None else tuple(
        exercise for exercise in EXERCISES if exercise.name in
        {exercise_named(name).name for name in names})
    workbook: Workbook = load_workbook(directory)
    torch = _import_torch() if use_torch else None
    data: TrainingData | str | None = None
    results = []
    saved_rng_state = minicnn_random.get_rng_state()
    try:
        for exercise in selected:
            result = ExerciseResult(exercise.name, exercise.title)
            results.append(result)
            if exercise.name in workbook.errors:
                error = workbook.errors[exercise.name]
                problem = learner_error(error, workbook.directory)
                result.status = "error"
                result.message = (f"{exercise.name}.py did not load: "
                                  f"{problem or f'{type(error).__name__}: {error}'}")
            else:
                functions = workbook.modules[exercise.name]
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(
                    EXERCISES.index(exercise),)))
                with contextlib.suppress(_StopExercise):
                    _check_numbers(exercise, functions, result, torch, rng, workbook.directory)
                if result.passed and training is not None and training.steps > 0:
                    if data is None:
                        data = _load_data(training.data_dir)
                    if isinstance(data, str):
                        result.stages["LeNet-5 on MNIST"] = "skipped"
                        result.notes.append(data)
                    else:
                        _train(exercise, functions, result, data, training, seed,
                               workbook.directory)
            if out is not None:
                print(result.describe(), file=out, flush=True)
    finally:
        minicnn_random.set_rng_state(saved_rng_state)
    return results


def _load_data(data_dir) -> TrainingData | str:
    """The MNIST data, or a sentence saying why the training stage is skipped."""
    from minicnn.data import DataFileError, DownloadError

    try:
        return load_training_data(data_dir)
    except (DownloadError, DataFileError, FileNotFoundError, OSError) as error:
        reason = " ".join(str(error).split())
        return (f"MNIST is not available, so LeNet-5 was not trained ({reason}); pass "
                "--data-dir DIR (a folder with the four IDX files) or set MINICNN_MNIST_DIR")


def format_results(results: list[ExerciseResult]) -> str:
    """The progress table: one row per exercise, a column per stage, then a summary line."""
    rows = [[result.name, *(result.stages.get(stage, "") for stage in STAGES), result.status]
            for result in results]
    passed = sum(result.passed for result in results)
    table = format_table(["exercise", *STAGES, "result"], rows)
    summary = f"{passed}/{len(results)} passed"
    remaining = [result for result in results if not result.passed]
    if remaining:
        summary += f"; next: {remaining[0].name}.py ({remaining[0].title})"
    return f"{table}\n\n{summary}"
