"""init_workbook writes the stubs (never over the learner's work); load_workbook loads the
learner's files by path, and only those."""

from __future__ import annotations

import sys

import pytest

from minicnn.exercises import EXERCISES, init_workbook, load_workbook
from minicnn.exercises.workbook import package_folder


def test_init_writes_every_stub_and_a_readme(tmp_path):
    written, kept = init_workbook(tmp_path / "wb")
    names = sorted(path.name for path in written)
    expected = sorted([f"{exercise.name}.py" for exercise in EXERCISES] + ["README.md"])
    assert names == expected and kept == [], f"expected {expected} written, got {names}"
    for exercise in EXERCISES:
        text = (tmp_path / "wb" / f"{exercise.name}.py").read_text()
        assert "raise NotImplementedError" in text, f"{exercise.name}.py has no stub body"
        for function in exercise.functions:
            assert f"def {function}(" in text, f"{exercise.name}.py lacks {function}"
        assert "Hint:" in text or "rule" in text, f"{exercise.name}.py has no hint"


def test_init_never_overwrites(tmp_path):
    folder = tmp_path / "wb"
    init_workbook(folder)
    (folder / "relu.py").write_text("# my answer\n")
    written, kept = init_workbook(folder)
    assert written == [] and len(kept) == len(EXERCISES) + 1, f"expected nothing new: {written}"
    assert (folder / "relu.py").read_text() == "# my answer\n", "init overwrote relu.py"
    (folder / "linear.py").unlink()
    written, _ = init_workbook(folder)
    assert [path.name for path in written] == ["linear.py"], "a deleted stub comes back"


def test_init_refuses_the_installed_package():
    with pytest.raises(ValueError, match="inside the installed minicnn package"):
        init_workbook(package_folder() / "exercises" / "mine")
    assert not (package_folder() / "exercises" / "mine").exists()


def test_loads_the_learners_files_without_touching_sys_path(stub_workbook):
    before = list(sys.path)
    workbook = load_workbook(stub_workbook)
    assert sys.path == before, "load_workbook changed sys.path"
    assert workbook.errors == {}, f"the stubs should all load, got {workbook.errors}"
    module = workbook.relu
    assert module.__file__ == str(stub_workbook / "relu.py"), module.__file__
    assert not module.__name__.startswith("minicnn"), module.__name__
    with pytest.raises(NotImplementedError):
        module.relu_forward(None)


def test_an_edit_is_always_seen(stub_workbook):
    # Same size, same second: a bytecode cache keyed on (mtime, size) would miss it.
    (stub_workbook / "relu.py").write_text("def relu_forward(x):\n    return 1, 1\n")
    assert load_workbook(stub_workbook).relu.relu_forward(0) == (1, 1)
    (stub_workbook / "relu.py").write_text("def relu_forward(x):\n    return 2, 2\n")
    assert load_workbook(stub_workbook).relu.relu_forward(0) == (2, 2), "a stale module"
    assert not (stub_workbook / "__pycache__").exists(), "bytecode was written"


def test_a_broken_file_is_reported_and_the_others_load(stub_workbook):
    (stub_workbook / "linear.py").write_text("def linear_forward(:\n")
    workbook = load_workbook(stub_workbook)
    assert isinstance(workbook.errors["linear"], SyntaxError), workbook.errors
    assert "relu" in workbook.modules and "linear" not in workbook.modules
    with pytest.raises(AttributeError, match="did not load"):
        workbook.linear  # noqa: B018


def test_relative_imports_reach_the_learners_siblings_only(stub_workbook):
    (stub_workbook / "im2col.py").write_text(
        "def im2col(x, k, s):\n    return 'mine'\n\ndef col2im(c, shape, s):\n    return 0\n")
    workbook = load_workbook(stub_workbook)
    assert workbook.conv2d.im2col(None, 1, 1) == "mine", "conv2d.py imported another im2col"
