"""The learner's workbook: a folder of exercise files, written once, loaded by path.

:func:`init_workbook` copies the templates of :mod:`minicnn.exercises.stubs` into a folder of
the learner's (never into the installed package) and adds a ``README.md``; it never
overwrites a file, so running it again only adds what is missing.

:func:`load_workbook` imports the learner's files, and only those: each file is read from the
folder and executed as a module of a package of its own with a fresh name, so nothing the
installed package ships can stand in for a stub, and no ``sys.path`` entry is added. The
files may import each other relatively (``from .im2col import im2col``), as the LeNet-5 step
does; they are loaded in the order of the course, each after those it may import. Sources are
compiled afresh every time (no ``__pycache__``), so an edit is always seen.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import itertools
import sys
import types
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = ["Workbook", "init_workbook", "load_workbook", "package_folder"]

_package_numbers = itertools.count()


def package_folder() -> Path:
    """The installed ``minicnn`` package's folder."""
    return Path(__file__).resolve().parents[1]


def _readme(names: list[str], titles: list[str]) -> str:
    rows = "\n".join(f"| {index} | `{name}.py` | {title} |"
                     for index, (name, title) in enumerate(zip(names, titles), start=1))
    return f"""# Your minicnn workbook

Each file is one exercise: functions with a docstring (what to compute, the shapes, a hint)
and `raise NotImplementedError` where your code goes. Work through them in order:

| | file | exercise |
| --- | --- | --- |
{rows}

Check one exercise, or all of them:

```bash
minicnn exercises check . relu
minicnn exercises check .
```

For each exercise the check runs your functions on fixed and random inputs and compares every
result with minicnn's own reference, with finite differences (float64) and with PyTorch (when
it is installed). The first wrong element is printed with the value expected and yours, and,
where the numbers fit a classic mistake (a sign flipped, a gradient off by the batch size, a
transposed weight gradient, ...), its name. A passing function is then plugged into a real
LeNet-5 that trains on MNIST (`--train-steps`, `--data-dir`; `--no-train` skips it).

The files import each other relatively (`from .im2col import im2col`), so import them through
`minicnn.exercises.load_workbook(".")` rather than running one as a script. `minicnn
exercises init` never overwrites a file: delete one to get its template back.
"""


def init_workbook(directory) -> tuple[list[Path], list[Path]]:
    """Write the exercise templates and a README into ``directory`` (created if needed).

    Returns:
        ``(written, kept)``: the files written, and those already there (left untouched).

    Raises:
        ValueError: ``directory`` is inside the installed minicnn package.
    """
    from minicnn.exercises.catalog import EXERCISES

    directory = Path(directory).expanduser().resolve()
    if directory == package_folder() or package_folder() in directory.parents:
        raise ValueError(f"{directory} is inside the installed minicnn package; write your "
                         "workbook into a folder of your own")
    directory.mkdir(parents=True, exist_ok=True)
    templates = resources.files("minicnn.exercises.stubs")
    contents = {f"{exercise.name}.py": templates.joinpath(f"{exercise.name}.py").read_text()
                for exercise in EXERCISES}
    contents["README.md"] = _readme([exercise.name for exercise in EXERCISES],
                                    [exercise.title for exercise in EXERCISES])
    written, kept = [], []
    for file_name, text in contents.items():
        path = directory / file_name
        if path.exists():
            kept.append(path)
        else:
            path.write_text(text)
            written.append(path)
    return written, kept


class _SourceLoader(importlib.abc.Loader):
    """Executes a learner's file from its source, never from (or into) a bytecode cache."""

    def __init__(self, path: Path):
        self.path = path

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module) -> None:
        code = compile(self.path.read_text(), str(self.path), "exec", dont_inherit=True)
        exec(code, module.__dict__)


@dataclass
class Workbook:
    """The learner's modules, loaded from ``directory``.

    Attributes:
        directory: the workbook's folder (resolved).
        package: the name of the package the files were loaded into.
        modules: each exercise's module, by exercise name, for the files that loaded.
        errors: for each file that did not load (missing, a syntax error, an exception at
            import), the exception.
    """

    directory: Path
    package: str
    modules: dict[str, types.ModuleType] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)

    def __getattr__(self, name: str):
        # Only called for names that are not attributes: the exercise modules, as
        # ``workbook.relu.relu_forward``.
        modules = self.__dict__.get("modules", {})
        if name in modules:
            return modules[name]
        errors = self.__dict__.get("errors", {})
        if name in errors:
            raise AttributeError(f"{name}.py did not load: {errors[name]!r}")
        raise AttributeError(f"the workbook has no exercise {name!r}")


def load_workbook(directory) -> Workbook:
    """Import every exercise file of ``directory`` (see the module docstring)."""
    from minicnn.exercises.catalog import EXERCISES

    directory = Path(directory).expanduser().resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such folder; create a workbook with "
                                f"minicnn exercises init {directory}")
    package_name = f"_minicnn_workbook_{next(_package_numbers)}"
    package = types.ModuleType(package_name, f"the minicnn workbook in {directory}")
    # An empty search path: a relative import finds a sibling already loaded (in
    # sys.modules), and nothing else, ever.
    package.__path__ = []
    sys.modules[package_name] = package
    workbook = Workbook(directory, package_name)
    for exercise in EXERCISES:
        path = directory / f"{exercise.name}.py"
        if not path.is_file():
            workbook.errors[exercise.name] = FileNotFoundError(
                f"{path} is missing: minicnn exercises init {directory} adds it")
            continue
        module_name = f"{package_name}.{exercise.name}"
        spec = importlib.util.spec_from_file_location(module_name, path,
                                                      loader=_SourceLoader(path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:  # the learner's file: report it, load the others
            del sys.modules[module_name]
            workbook.errors[exercise.name] = error
            continue
        setattr(package, exercise.name, module)
        workbook.modules[exercise.name] = module
    return workbook
