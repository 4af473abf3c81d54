"""minicnn.tune.results and plots: the table of trials, the best trial's folder, the PNGs.

The studies here are made of recorded trials (``optuna.create_trial``), no training: what
is tested is how finished trials are reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import json

import optuna
import pytest
from PIL import Image

from minicnn.tune.plots import write_plots
from minicnn.tune.results import describe_trial, export_best, format_table, trial_rows, write_csv

LR = optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)
BATCH = optuna.distributions.CategoricalDistribution((32, 64))
START = dt.datetime(2026, 1, 1, 12, 0, 0)


def recorded_trial(state, lr, batch_size, accuracies, value=None, run_dir=None, seconds=10.0):
    """A finished trial as a worker would have recorded it, ``seconds`` long."""
    trial = optuna.trial.create_trial(
        state=state, value=value, params={"lr": lr, "batch_size": batch_size},
        distributions={"lr": LR, "batch_size": BATCH},
        intermediate_values=dict(enumerate(accuracies, start=1)),
        user_attrs={"host": "box", "run_dir": str(run_dir)} if run_dir else {})
    trial.datetime_start = START
    trial.datetime_complete = START + dt.timedelta(seconds=seconds)
    return trial


@pytest.fixture
def study(tmp_path):
    """Four trials: two complete (0.97 and 0.98), one pruned at 0.5, one failed."""
    study = optuna.create_study(direction="maximize")
    complete = optuna.trial.TrialState.COMPLETE
    best_run = tmp_path / "trials" / "trial-0001-x"
    best_run.mkdir(parents=True)
    (best_run / "config.json").write_text('{"lr": 0.01}\n')
    (best_run / "best.safetensors").write_bytes(b"weights")
    study.add_trial(recorded_trial(complete, 0.1, 64, [0.95, 0.97], value=0.97))
    study.add_trial(recorded_trial(complete, 0.01, 32, [0.96, 0.98], value=0.98,
                                   run_dir=best_run, seconds=20.0))
    study.add_trial(recorded_trial(optuna.trial.TrialState.PRUNED, 0.0001, 32, [0.5]))
    study.add_trial(recorded_trial(optuna.trial.TrialState.FAIL, 1.0, 64, []))
    return study


def test_rows_are_best_first_with_every_column(study):
    rows = trial_rows(study)
    assert [row["trial"] for row in rows] == [1, 0, 2, 3]
    assert [row["state"] for row in rows] == ["complete", "complete", "pruned", "fail"]
    # A pruned trial shows the best accuracy it reported; a failed one none.
    assert [row["accuracy"] for row in rows] == [0.98, 0.97, 0.5, None]
    assert [row["epochs"] for row in rows] == [2, 2, 1, 0]
    assert rows[0]["seconds"] == 20.0
    assert list(rows[0]) == ["trial", "state", "accuracy", "epochs", "seconds", "batch_size",
                             "lr", "host", "run_dir"]


def test_the_text_table_aligns_and_limits(study):
    table = format_table(trial_rows(study), limit=3)
    lines = table.splitlines()
    assert lines[0].split() == ["trial", "state", "accuracy", "epochs", "seconds",
                                "batch_size", "lr"]
    assert lines[1].split() == ["1", "complete", "0.9800", "2", "20.0", "32", "0.01"]
    assert lines[3].split() == ["2", "pruned", "0.5000", "1", "10.0", "32", "0.0001"]
    assert lines[-1] == "... 1 more trials"
    assert len({len(line) for line in lines[:-1]}) == 1, "columns are not aligned"
    assert format_table([]) == "(no trials)"


def test_csv_holds_every_trial(study, tmp_path):
    path = write_csv(trial_rows(study), tmp_path / "trials.csv")
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert [row["trial"] for row in rows] == ["1", "0", "2", "3"]
    assert rows[0]["lr"] == "0.01" and rows[0]["host"] == "box"
    assert rows[3]["accuracy"] == ""


def test_describe_trial_says_what_happened(study):
    trials = study.trials
    assert describe_trial(trials[1], best=0.98) == (
        "trial 1 complete: test accuracy 0.9800 (best 0.9800)  lr=0.01  batch_size=32  "
        "[20.0 s]")
    assert describe_trial(trials[2]).startswith("trial 2 pruned after epoch 1: test accuracy "
                                                "0.5000  lr=0.0001")
    assert describe_trial(trials[3]).startswith("trial 3 failed  lr=1  batch_size=64")


def test_export_best_copies_the_best_run_and_names_it(study, tmp_path):
    best = export_best(study, tmp_path / "study")
    assert best == tmp_path / "study" / "best"
    assert (best / "config.json").read_text() == '{"lr": 0.01}\n'
    assert (best / "best.safetensors").read_bytes() == b"weights"
    summary = json.loads((tmp_path / "study" / "best.json").read_text())
    assert summary["trial"] == 1 and summary["test_accuracy"] == 0.98
    assert summary["params"] == {"lr": 0.01, "batch_size": 32}
    # Run again (a resumed study), it replaces the copy.
    assert export_best(study, tmp_path / "study") == best


def test_a_best_run_on_another_machine_is_named_not_copied(tmp_path):
    study = optuna.create_study(direction="maximize")
    study.add_trial(recorded_trial(optuna.trial.TrialState.COMPLETE, 0.01, 32, [0.9],
                                   value=0.9, run_dir=tmp_path / "elsewhere"))
    (tmp_path / "study" / "best").mkdir(parents=True)  # a stale copy from an earlier best
    assert export_best(study, tmp_path / "study") is None
    assert not (tmp_path / "study" / "best").exists()
    summary = json.loads((tmp_path / "study" / "best.json").read_text())
    assert summary["run_dir"] == str(tmp_path / "elsewhere") and summary["host"] == "box"


def test_no_complete_trial_exports_nothing(tmp_path):
    study = optuna.create_study(direction="maximize")
    assert export_best(study, tmp_path) is None
    assert not (tmp_path / "best.json").exists()


def test_plots_are_written_as_png(study, tmp_path):
    written = write_plots(study, tmp_path / "plots")
    assert set(written) == {"history", "importances", "parallel_coordinates"}
    for stem, path in written.items():
        assert path == tmp_path / "plots" / f"{stem}.png"
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width > 300 and image.height > 200


def test_plots_that_need_more_trials_are_skipped_with_the_reason(tmp_path):
    study = optuna.create_study(direction="maximize")
    assert write_plots(study, tmp_path) == {"history": "no complete trial yet",
                                            "importances": "no complete trial yet",
                                            "parallel_coordinates": "no complete trial yet"}
    study.add_trial(recorded_trial(optuna.trial.TrialState.COMPLETE, 0.01, 32, [0.9],
                                   value=0.9))
    written = write_plots(study, tmp_path)
    assert written["importances"] == "importances need at least 2 complete trials"
    assert written["parallel_coordinates"] == (
        "parallel coordinates need at least 2 complete trials")
    assert written["history"].is_file()


def test_plots_leave_the_callers_matplotlib_style_alone(study, tmp_path):
    import matplotlib

    before = dict(matplotlib.rcParams)
    write_plots(study, tmp_path)
    assert dict(matplotlib.rcParams) == before
