"""``minicnn tune``: a tiny study end to end, its output and files, its errors, Ctrl-C."""

from __future__ import annotations

import csv
import re
import sys

import optuna
import pytest

from minicnn.tune.storage import default_storage_url
from tests.helpers.training import TINY_TRAINING

BEST_LINE = re.compile(r"best test accuracy: (\d+\.\d\d)%")


def tiny_study_args(study_dir, mnist_dir, *extra) -> list[str]:
    return ["tune", "--param", "lr=1e-3:0.1:log", "--param", "batch_size=32,64",
            "--n-trials", "3", "--startup-trials", "1", "--study-dir", str(study_dir),
            "--data-dir", str(mnist_dir), *TINY_TRAINING, *extra]


def test_a_tiny_study_prints_its_trials_table_and_best(cli, tmp_path, mnist_dir):
    study_dir = tmp_path / "study"
    status, stdout, stderr = cli(tiny_study_args(study_dir, mnist_dir))
    assert status == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == f"study lenet5-mnist in {default_storage_url(study_dir)}"
    assert lines[1] == "searching lr=0.001:0.1:log, batch_size=32,64"
    for number in range(3):
        assert any(line.startswith(f"trial {number} complete: test accuracy ")
                   for line in lines), stdout
    # The progress bar over the trials, on stderr.
    assert "study lenet5-mnist: 100%" in stderr and "3/3" in stderr, stderr
    assert "3 trials finished (3 complete, 0 pruned), 0 failed" in stdout
    assert f"table: {study_dir / 'trials.csv'}" in lines
    assert any(line.startswith("plots: ") and line.count(".png") == 3 for line in lines), stdout

    with (study_dir / "trials.csv").open() as file:
        rows = list(csv.DictReader(file))
    best_row = max(rows, key=lambda row: float(row["accuracy"]))
    match = BEST_LINE.fullmatch(lines[-1])
    assert match, f"the last line is not 'best test accuracy: XX.XX%': {lines[-1]!r}"
    assert float(match.group(1)) == pytest.approx(100 * float(best_row["accuracy"]), abs=0.0051)
    assert lines[-2].startswith(f"best trial {best_row['trial']}: lr=")
    assert lines[-2].endswith(f"its run: {study_dir / 'best'}")
    for name in ("study.db", "trials.csv", "best.json", "best/config.json",
                 "best/best.safetensors", "best/checkpoint.safetensors",
                 "plots/history.png", "plots/importances.png",
                 "plots/parallel_coordinates.png"):
        assert (study_dir / name).is_file(), name

    # The best trial's folder is a run directory like any other: evaluate reads it.
    status, stdout, stderr = cli(["evaluate", str(study_dir / "best"), "--data-dir",
                                  str(mnist_dir), "--limit-test", "200"])
    assert status == 0, stderr
    assert f"{float(best_row['accuracy']) * 100:.2f}%" in stdout, stdout


def test_a_space_file_with_fixed_settings(cli, tmp_path, mnist_dir):
    space = tmp_path / "space.toml"
    space.write_text('[params]\nmomentum = "0.5:0.9"\n\n[fixed]\noptimizer = "sgd"\n'
                     'limit_train = 300\n')
    study_dir = tmp_path / "study"
    status, stdout, stderr = cli(["tune", "--space", str(space), "--param", "width=0.5,1",
                                  "--n-trials", "1", "--study-dir", str(study_dir),
                                  "--data-dir", str(mnist_dir), "--epochs", "1",
                                  "--limit-test", "100", "--no-plots", "--no-progress"])
    assert status == 0, stderr
    assert "searching momentum=0.5:0.9, width=0.5,1" in stdout
    study = optuna.load_study(study_name="lenet5-mnist",
                              storage=default_storage_url(study_dir))
    (trial,) = study.trials
    assert set(trial.params) == {"momentum", "width"}
    config = (study_dir / "best" / "config.json").read_text()
    assert '"optimizer": "sgd"' in config and '"limit_train": 300' in config
    assert not (study_dir / "plots").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--param", "lr=1:0.1"], "argument --param: --param lr: a range needs low < high"),
    (["--param", "colour=red"], "--param colour: not a tunable setting"),
    (["--param", "lr=1e-3:1:log", "--param", "lr=0.1,0.2"], "--param lr: given twice"),
    ([], "does not exist yet: give a search space"),
    (["--param", "lr=1e-3:1:log", "--lr", "0.1"], "['lr'] both tuned and fixed"),
    (["--param", "lr=1e-3:1:log", "--space", "nowhere.toml"], "nowhere.toml"),
    (["--param", "lr=1e-3:1:log", "--workers", "64"], "64 workers on"),
    (["--param", "lr=1e-3:1:log", "--pruner", "hyperband"], "invalid choice: 'hyperband'"),
])
def test_usage_errors_exit_2_with_a_sentence(cli, tmp_path, args, message):
    status, stdout, stderr = cli(["tune", "--study-dir", str(tmp_path), *args])
    assert status == 2, (stdout, stderr)
    assert message in stderr, stderr


def test_joining_a_study_with_other_settings_is_refused(cli, tmp_path, mnist_dir):
    status, _, stderr = cli(tiny_study_args(tmp_path, mnist_dir, "--n-trials", "1",
                                            "--no-plots", "--no-progress"))
    assert status == 0, stderr
    status, _, stderr = cli(tiny_study_args(tmp_path, mnist_dir, "--epochs", "2"))
    assert status == 2
    assert "study 'lenet5-mnist' trains with epochs=1 (asked: 2)" in stderr, stderr


def test_ctrl_c_fails_the_running_trial_and_says_how_to_resume(cli, tmp_path, mnist_dir,
                                                               monkeypatch):
    from minicnn.train.trainer import Trainer

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "run_epoch", interrupted)
    status, _, stderr = cli(tiny_study_args(tmp_path, mnist_dir, "--no-progress"))
    assert status == 130
    assert "run the same command again to resume it" in stderr, stderr
    study = optuna.load_study(study_name="lenet5-mnist", storage=default_storage_url(tmp_path))
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.FAIL]


def test_missing_data_is_a_one_line_error(cli, tmp_path):
    status, _, stderr = cli(tiny_study_args(tmp_path / "study", tmp_path / "no-mnist",
                                            "--no-progress"))
    assert status == 1
    assert stderr.startswith("minicnn tune: ") and "no-mnist" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_without_optuna_the_command_says_how_to_install_it(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` now fails
    status, stdout, stderr = cli(["tune", "--param", "lr=1e-3:1:log"])
    assert status == 1 and stdout == ""
    assert stderr.strip() == ("minicnn tune: minicnn tune needs Optuna, which is not installed: "
                              "pip install 'minicnn-numpy[tune]' (or pip install optuna)")
