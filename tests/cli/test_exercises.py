"""Tests of the ``minicnn exercises`` command (minicnn/cli/exercises.py)."""

from __future__ import annotations

import subprocess
import sys

from minicnn.cli import main
from minicnn.exercises import EXERCISES
from minicnn.exercises.workbook import package_folder

RELU = """
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(grad_output, cache):
    return grad_output * (cache > 0)
"""


def test_init_then_check_the_stubs(tmp_path, capsys):
    folder = tmp_path / "wb"
    assert main(["exercises", "init", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {len(EXERCISES) + 1} file(s)" in out and "exercises check" in out, out
    assert main(["exercises", "check", str(folder), "--no-train"]) == 1
    out = capsys.readouterr().out
    assert out.count("not implemented yet") >= 2 * len(EXERCISES), out
    assert f"0/{len(EXERCISES)} passed; next: relu.py" in out, out


def test_a_solved_exercise_passes_and_trains(tmp_path, capsys, mnist_dir):
    folder = tmp_path / "wb"
    main(["exercises", "init", str(folder)])
    (folder / "relu.py").write_text(RELU)
    status = main(["exercises", "check", str(folder), "relu", "--train-steps", "5",
                   "--batch-size", "8", "--data-dir", str(mnist_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "relu: passed (LeNet-5 trained 5 steps with your code" in out, out
    assert "1/1 passed" in out, out


def test_refusals(tmp_path, capsys):
    assert main(["exercises", "init", str(package_folder() / "mine")]) == 2
    assert "inside the installed minicnn package" in capsys.readouterr().err
    assert main(["exercises", "check", str(tmp_path), "relu", "nope"]) == 2
    assert "unknown exercise 'nope'; choose from relu, linear" in capsys.readouterr().err
    assert main(["exercises", "check", str(tmp_path / "missing")]) == 2
    assert "minicnn exercises init" in capsys.readouterr().err


def test_the_command_runs_as_a_program(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "minicnn", "exercises", "init",
                                str(tmp_path / "wb")], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "wb" / "lenet5_step.py").is_file()
