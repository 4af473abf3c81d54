"""Tests of the ``minicnn gradcheck`` command (minicnn/cli/gradcheck.py) and the CLI entry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from minicnn import cli
from minicnn import random as minicnn_random
from minicnn.cli import gradcheck as gradcheck_command
from minicnn.cli.gradcheck import CASES, MINICNN_NN, LayerCase, layer_case, normal
from minicnn.nn.linear import Linear

ALL_LAYERS = list(dict.fromkeys(case.layer for case in CASES))


def _table_rows(output: str) -> list[list[str]]:
    """The table's data rows, split on the two-space column separator."""
    lines = output.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    rows = []
    for line in lines[rule + 1:]:
        if not line.strip():
            break
        rows.append([cell.strip() for cell in line.split("  ") if cell.strip()])
    return rows


def test_every_layer_is_checked_and_passes(capsys):
    status = cli.main(["gradcheck"])
    output = capsys.readouterr().out
    assert status == 0, output
    rows = _table_rows(output)
    assert len(rows) == len(CASES)
    assert [row[0] for row in rows] == [case.layer for case in CASES]
    assert set(ALL_LAYERS) >= {
        "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Linear", "Identity",
        "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Flatten", "Dropout",
        "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss", "ConvTranspose2d",
        "GroupNorm", "GELU", "SiLU", "Dropout2d"}
    assert all(row[-1] == "PASS" for row in rows)
    assert f"{len(CASES)}/{len(CASES)} passed" in output
    assert "n/a: random masks differ" in output, "Dropout in training mode is not compared"


def test_layer_filter_is_case_insensitive_and_repeatable(capsys):
    status = cli.main(["gradcheck", "--layer", "linear", "--layer", "ReLU", "--seed", "3"])
    output = capsys.readouterr().out
    assert status == 0, output
    layers = {row[0] for row in _table_rows(output)}
    assert layers == {"Linear", "ReLU"}


def test_unknown_layer_exits_with_2_and_lists_the_choices(capsys):
    status = cli.main(["gradcheck", "--layer", "Conv3d"])
    error = capsys.readouterr().err
    assert status == 2
    assert "unknown layer 'Conv3d'" in error and "Conv2d" in error


def test_float32_comparison(capsys):
    status = cli.main(["gradcheck", "--layer", "Conv2d", "--dtype", "float32"])
    output = capsys.readouterr().out
    assert status == 0, output
    assert "torch float32 abs" in output and "rtol=1e-05" in output


class WrongBiasLinear(Linear):
    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.bias.grad *= 2
        return grad_input


def _wrong_linear(nn):
    return WrongBiasLinear(3, 2) if nn is MINICNN_NN else nn.Linear(3, 2)


def test_a_failing_layer_exits_with_1_and_shows_the_details(capsys, monkeypatch):
    broken = LayerCase("BrokenLinear", "3, 2", _wrong_linear, normal(4, 3))
    monkeypatch.setattr(gradcheck_command, "CASES", [CASES[0], broken])
    status = cli.main(["gradcheck"])
    output = capsys.readouterr().out
    assert status == 1
    rows = _table_rows(output)
    assert [row[-1] for row in rows] == ["PASS", "FAIL"]
    assert "1/2 passed" in output
    # Below the table, both detailed reports name the wrong tensor.
    assert "backward disagrees" not in output
    details = output.split("1/2 passed")[1]
    assert "bias  " in details and "bias.grad" in details and "FAIL" in details


def _raising_build(nn):
    raise ValueError("Exploding(): cannot be built")


def test_a_layer_that_raises_becomes_an_error_row(capsys, monkeypatch):
    exploding = LayerCase("Exploding", "", _raising_build, normal(2))
    monkeypatch.setattr(gradcheck_command, "CASES", [exploding, CASES[0]])
    status = cli.main(["gradcheck"])
    output = capsys.readouterr().out
    assert status == 1
    assert [row[-1] for row in _table_rows(output)] == ["ERROR", "PASS"]
    assert "ValueError: Exploding(): cannot be built" in output


def test_without_torch_the_table_says_so(capsys, monkeypatch):
    monkeypatch.setattr(gradcheck_command, "_import_torch", lambda: None)
    status = cli.main(["gradcheck", "--layer", "Tanh"])
    output = capsys.readouterr().out
    assert status == 0
    assert "n/a: torch not installed" in output
    assert "PyTorch is not installed" in output


def test_new_layers_are_in_the_table_in_every_mode_they_have(capsys):
    status = cli.main(["gradcheck", "--layer", "ConvTranspose2d", "--layer", "GroupNorm",
                       "--layer", "GELU", "--layer", "SiLU", "--layer", "Dropout2d",
                       "--dtype", "float32"])
    output = capsys.readouterr().out
    assert status == 0, output
    rows = _table_rows(output)
    configs = {(row[0], row[1]) for row in rows}
    output_size_row = ("ConvTranspose2d",
                       "2, 2, 3, stride=3, padding=1, forward output_size=(8, 9)")
    assert output_size_row in configs
    assert {("Dropout2d", "0.4, train"), ("Dropout2d", "0.4, eval")} <= configs
    assert {row[0] for row in rows} == {"ConvTranspose2d", "GroupNorm", "GELU", "SiLU",
                                        "Dropout2d"}
    assert all(row[-1] == "PASS" for row in rows)


def test_layer_case_config_text():
    case = layer_case("BCEWithLogitsLoss", pos_weight=np.ones(3), reduction="sum",
                      inputs=normal(2, 3))
    assert case.config == "pos_weight=array(3,), reduction='sum'"
    assert layer_case("BatchNorm2d", 3, training=False, inputs=normal(1)).config == "3, eval"


def test_random_states_are_left_as_found(capsys):
    minicnn_random.manual_seed(7)
    torch.manual_seed(7)
    minicnn_state, torch_state = minicnn_random.get_rng_state(), torch.random.get_rng_state()
    assert cli.main(["gradcheck", "--layer", "Linear", "--layer", "Dropout"]) == 0
    assert minicnn_random.get_rng_state() == minicnn_state
    assert torch.equal(torch.random.get_rng_state(), torch_state)


def test_main_requires_a_command(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main([])
    assert caught.value.code == 2
    assert "gradcheck" in capsys.readouterr().err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--help"])
    assert caught.value.code == 0
    assert "gradcheck" in capsys.readouterr().out


def test_every_command_module_has_the_interface():
    for command in cli.COMMANDS:
        assert callable(command.add_parser) and callable(command.run), command.__name__


def test_runs_as_a_module_in_a_subprocess():
    result = subprocess.run(
        [sys.executable, "-m", "minicnn", "gradcheck", "--layer", "Linear"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _table_rows(result.stdout)
    assert rows and all(row[0] == "Linear" and row[-1] == "PASS" for row in rows)
