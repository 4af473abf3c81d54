"""What an exercise is, and the checks every exercise goes through.

An :class:`Exercise` knows how to call the learner's functions on a :class:`Case` (``run``),
what the right answer is (``run`` on its ``reference``: the same functions written with
:mod:`minicnn.functional`), how to check a backward against finite differences, how PyTorch
computes the same thing, which :class:`~minicnn.exercises.mistakes.Mistake` s fit it, and how
to plug the learner's functions into LeNet-5. The checks, in order, each on the fixed cases
(chosen to expose the classic mistakes: overlapping windows, ties, a batch size unlike any
other dimension) and then on random ones:

1. **shapes**: every result has the expected type, shape and dtype, in float64 and float32,
   and no argument was written into;
2. **reference**: every value equals minicnn's reference in float64;
3. **finite differences**: every gradient equals central differences of the forward
   (:func:`minicnn.gradcheck`, float64);
4. **PyTorch**: every value equals PyTorch's, when PyTorch is installed.

The first failure stops the exercise and is reported as the first wrong element, its
expected and actual values and, where a known mistake fits the numbers, its name.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from minicnn.exercises.compare import Mismatch, first_mismatch, form_mismatch
from minicnn.exercises.mistakes import Mistake, diagnose
from minicnn.gradient_check import gradcheck

__all__ = [
    "REFERENCE_TOLERANCE",
    "Case",
    "ContractError",
    "Exercise",
    "Failure",
    "LearnerError",
    "gradcheck_function",
    "learner_error",
    "unpack",
]

REFERENCE_TOLERANCE = (1e-7, 1e-12)
"""``(rtol, atol)`` against minicnn's reference and PyTorch in float64: far above rounding
(a different summation order agrees to ~1e-15) and far below any real mistake."""
FINITE_DIFFERENCE_TOLERANCE = (1e-3, 1e-5)
"""``(rtol, atol)`` against central differences (:func:`minicnn.gradcheck`'s defaults)."""


@dataclass(frozen=True)
class Case:
    """One set of inputs for an exercise.

    Attributes:
        label: what the case is, shown in a failure (``"fixed: overlapping windows"``).
        inputs: the arrays (float64) and settings the exercise's ``run`` reads.
        batch_size: N, for the "off by the batch size" diagnosis (``None``: no batch).
        finite_differences: ``False`` where finite differences mean nothing (a tie in a
            max-pooling window, an input exactly at ReLU's kink).
    """

    label: str
    inputs: dict
    batch_size: int | None = None
    finite_differences: bool = True

    def astype(self, dtype) -> Case:
        """The same case with every float array converted to ``dtype``."""
        return replace(self, inputs={key: _convert(value, dtype)
                                     for key, value in self.inputs.items()})

    def copy(self) -> Case:
        return replace(self, inputs={key: _copy(value) for key, value in self.inputs.items()})


def _convert(value, dtype):
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value.astype(dtype)
    if isinstance(value, dict):
        return {key: _convert(item, dtype) for key, item in value.items()}
    return value


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    return value


def _changed_argument(original: dict, after: dict) -> str | None:
    """The name of the first input array the learner's code wrote into, if any."""
    for key, value in original.items():
        if isinstance(value, dict):
            changed = _changed_argument(value, after[key])
            if changed is not None:
                return f"{key}[{changed!r}]"
        elif isinstance(value, np.ndarray) and not np.array_equal(value, after[key],
                                                                  equal_nan=True):
            return key
    return None


class ContractError(Exception):
    """The learner's function returned something of the wrong form (not a pair, say)."""


class LearnerError(Exception):
    """The learner's code raised; ``str()`` names the function, the file and the line.

    Attributes:
        not_implemented: the error was a stub's ``NotImplementedError``.
    """

    def __init__(self, message: str, not_implemented: bool):
        super().__init__(message)
        self.not_implemented = not_implemented


def learner_error(error: BaseException, workbook: Path) -> LearnerError | None:
    """A :class:`LearnerError` for an exception raised inside the workbook, else ``None``.

    The place named is the innermost frame in one of the learner's files, so that an error
    raised by NumPy on the learner's behalf points at the learner's line.
    """
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if Path(frame.filename).resolve().parent == workbook]
    if not frames:
        return None
    frame = frames[-1]
    place = f"{frame.name} in {Path(frame.filename).name}"
    if isinstance(error, NotImplementedError):
        return LearnerError(f"not implemented yet ({place} raises NotImplementedError)", True)
    return LearnerError(f"{type(error).__name__}: {error} ({place}, line {frame.lineno}: "
                        f"{frame.line})", False)


def unpack(result, count: int, function: str, names: str):
    """``result`` as a tuple of ``count`` items, or a :class:`ContractError` saying so."""
    if not isinstance(result, tuple) or len(result) != count:
        got = (f"a tuple of {len(result)}" if isinstance(result, tuple)
               else type(result).__name__)
        raise ContractError(f"{function} must return {names}, got {got}")
    return result


@dataclass(frozen=True)
class Failure:
    """Why an exercise failed: the stage, the case and either a mismatch or a message.

    Attributes:
        stage: ``"shapes"``, ``"reference"``, ``"finite differences"``, ``"PyTorch"`` or
            ``"training"``.
        case: the case's label ('' for the training stage).
        mismatch: the first wrong tensor (``None`` when ``message`` says what went wrong).
        mistake: the known mistake that fits the numbers, if one does.
        message: a sentence for failures that are not a wrong tensor.
    """

    stage: str
    case: str
    mismatch: Mismatch | None = None
    mistake: Mistake | None = None
    message: str = ""

    def describe(self) -> str:
        """The failure as a few lines of text for the learner."""
        against = {"reference": "compared with minicnn's reference",
                   "finite differences": "compared with finite differences (float64)",
                   "PyTorch": "compared with PyTorch (float64)",
                   "shapes": "checking shapes and dtypes"}.get(self.stage, self.stage)
        lines = [f"{against}, case {self.case!r}:" if self.case else f"{against}:"]
        lines.append("  " + (self.mismatch.describe() if self.mismatch else self.message))
        if self.mistake is not None:
            lines.append(f"  looks like: {self.mistake.name}: {self.mistake.advice}")
        return "\n".join(lines)


class Exercise:
    """One exercise: the learner's functions, the cases, the answers and the known mistakes.

    Subclasses (one per exercise, in :mod:`minicnn.exercises.checks`) set the class
    attributes and implement ``fixed_cases``, ``random_cases``, ``run``, and, where they
    apply, ``finite_differences``, ``torch_outputs`` and ``trainee``.

    Attributes:
        name: the file name in the workbook (without ``.py``) and the name ``check`` takes.
        title: one line for the table.
        functions: the names the learner writes, in the order they are checked.
        reference: a namespace with the same functions, written with minicnn.functional.
        mistakes: the known mistakes to look for in a wrong tensor, most specific first.
        has_backward: ``False`` for an update rule, which finite differences cannot check.
    """

    name: str = ""
    title: str = ""
    functions: tuple[str, ...] = ()
    reference: SimpleNamespace = SimpleNamespace()
    mistakes: tuple[Mistake, ...] = ()
    has_backward: bool = True

    # ------------------------------------------------------------------ to be provided
    def fixed_cases(self) -> list[Case]:
        raise NotImplementedError

    def random_cases(self, rng: np.random.Generator) -> list[Case]:
        raise NotImplementedError

    def run(self, functions, case: Case) -> dict:
        """Call ``functions`` (the learner's or :attr:`reference`) on ``case``; the results
        by name (``"out"``, ``"grad_input"``, ...)."""
        raise NotImplementedError

    def finite_differences(self, functions, case: Case) -> dict[str, tuple]:
        """``{name: (analytic, numeric)}`` for every gradient of the learner's backward;
        empty when the exercise has no backward."""
        return {}

    def torch_outputs(self, torch, case: Case) -> dict | None:
        """PyTorch's values for (some of) :meth:`run`'s names, or ``None``."""
        return None

    def trainee(self, functions, seed: int):
        """LeNet-5 training with the learner's ``functions`` (``None``: minicnn's own)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the stages
    def _call(self, functions, case: Case) -> dict:
        """:meth:`run` on a copy of ``case``; a :class:`ContractError` if an input changed."""
        copied = case.copy()
        results = self.run(functions, copied)
        changed = _changed_argument(case.inputs, copied.inputs)
        if changed is not None:
            raise ContractError(
                f"your code wrote into its argument {changed!r}: a caller may still need it "
                "(the same array can feed two layers); compute into a new array instead")
        return results

    def _compare(self, stage: str, case: Case, actual: dict, expected: dict,
                 tolerance: tuple[float, float]) -> Failure | None:
        for name, wanted in expected.items():
            mismatch = first_mismatch(name, actual[name], wanted, *tolerance)
            if mismatch is not None:
                mistake = diagnose(self.mistakes, name, actual[name], wanted, case)
                return Failure(stage, case.label, mismatch, mistake)
        return None

    def check_shapes(self, functions, cases: list[Case]) -> Failure | None:
        """Types, shapes and dtypes in float64 and float32; arguments left unchanged."""
        for case in cases:
            for dtype in (np.float64, np.float32):
                typed = case.astype(dtype)
                label = f"{case.label}, {np.dtype(dtype).name}"
                try:
                    actual = self._call(functions, typed)
                except ContractError as error:
                    return Failure("shapes", label, message=str(error))
                expected = self.run(self.reference, typed)
                for name, wanted in expected.items():
                    mismatch = form_mismatch(name, actual[name], wanted)
                    if mismatch is not None:
                        mistake = diagnose(self.mistakes, name, actual[name], wanted, typed)
                        return Failure("shapes", label, mismatch, mistake)
        return None

    def check_reference(self, functions, cases: list[Case]) -> Failure | None:
        for case in cases:
            failure = self._compare("reference", case, self._call(functions, case),
                                    self.run(self.reference, case), REFERENCE_TOLERANCE)
            if failure is not None:
                return failure
        return None

    def check_finite_differences(self, functions, cases: list[Case]) -> Failure | None:
        for case in cases:
            if not case.finite_differences:
                continue
            pairs = self.finite_differences(functions, case.copy())
            failure = self._compare("finite differences", case,
                                    {name: analytic for name, (analytic, _) in pairs.items()},
                                    {name: numeric for name, (_, numeric) in pairs.items()},
                                    FINITE_DIFFERENCE_TOLERANCE)
            if failure is not None:
                return failure
        return None

    def check_torch(self, torch, functions, cases: list[Case]) -> Failure | None:
        for case in cases:
            expected = self.torch_outputs(torch, case.copy())
            if expected is None:
                continue
            failure = self._compare("PyTorch", case, self._call(functions, case), expected,
                                    REFERENCE_TOLERANCE)
            if failure is not None:
                return failure
        return None


def gradcheck_function(forward: Callable, backward: Callable, inputs: list, names: list[str],
                       grad_output: np.ndarray, max_elements: int | None = None) -> dict:
    """``{name: (analytic, numeric)}`` from :func:`minicnn.gradcheck` of a function.

    ``forward(*inputs)`` returns the output (or a tuple whose first item is the output);
    ``backward(grad_output, *inputs)`` returns the gradients of the float inputs, in order,
    named by ``names``.
    """
    report = gradcheck(forward, *inputs, backward=backward, grad_output=grad_output,
                       max_elements=max_elements, raise_exception=False)
    return {name: (check.analytic, check.numeric)
            for name, check in zip(names, report.tensors)}
