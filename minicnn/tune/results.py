"""A study's results: one row per trial, as a text table and a CSV file, and the best trial.

The best trial's run directory (its config, metrics, checkpoint and best weights) is copied
to ``STUDY_DIR/best``, and ``STUDY_DIR/best.json`` names its parameters and accuracy, so the
tuned network is one folder: ``minicnn evaluate STUDY_DIR/best`` evaluates it.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from minicnn.tune._optuna import import_optuna

__all__ = ["describe_trial", "export_best", "format_table", "trial_rows", "write_csv"]

FIXED_COLUMNS = ("trial", "state", "accuracy", "epochs", "seconds")


def _accuracy(trial) -> float | None:
    """A complete trial's value; for a pruned one, the best accuracy it reported."""
    if trial.value is not None:
        return trial.value
    values = list(trial.intermediate_values.values())
    return max(values) if values else None


def _seconds(trial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def describe_trial(trial, best: float | None = None) -> str:
    """One line for a finished trial: its state, accuracy, parameters and duration."""
    params = "  ".join(f"{name}={_format_value(value)}" for name, value in trial.params.items())
    accuracy = _accuracy(trial)
    state = {"fail": "failed"}.get(trial.state.name.lower(), trial.state.name.lower())
    if state == "pruned":
        state = f"pruned after epoch {max(trial.intermediate_values, default=0)}"
    text = f"trial {trial.number} {state}"
    retried = trial.system_attrs.get("failed_trial")
    if retried is not None:
        text += f" (retry of trial {retried})"
    if accuracy is not None:
        text += f": test accuracy {accuracy:.4f}"
    if best is not None:
        text += f" (best {best:.4f})"
    seconds = _seconds(trial)
    duration = f"  [{seconds:.1f} s]" if seconds is not None else ""
    return f"{text}  {params}{duration}"


def _format_value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def trial_rows(study) -> list[dict]:
    """One dict per trial: number, state, accuracy, epochs trained, seconds, parameters, where.

    Ordered best first: complete trials by accuracy, then pruned ones, then the rest.
    """
    optuna = import_optuna()
    order = {optuna.trial.TrialState.COMPLETE: 0, optuna.trial.TrialState.PRUNED: 1}
    trials = sorted(study.get_trials(deepcopy=False),
                    key=lambda t: (order.get(t.state, 2), -(_accuracy(t) or 0.0), t.number))
    names = sorted({name for trial in trials for name in trial.params})
    rows = []
    for trial in trials:
        row = {
            "trial": trial.number,
            "state": trial.state.name.lower(),
            "accuracy": _accuracy(trial),
            "epochs": len(trial.intermediate_values),
            "seconds": _seconds(trial),
        }
        row.update({name: trial.params.get(name) for name in names})
        row["host"] = trial.user_attrs.get("host")
        row["run_dir"] = trial.user_attrs.get("run_dir")
        rows.append(row)
    return rows


def format_table(rows: list[dict], limit: int | None = None) -> str:
    """The rows as an aligned text table (without the host and run directory columns)."""
    if not rows:
        return "(no trials)"
    columns = [key for key in rows[0] if key not in ("host", "run_dir")]
    shown = rows if limit is None else rows[:limit]

    def cell(key, value) -> str:
        if value is None:
            return "-"
        if key == "accuracy":
            return f"{value:.4f}"
        if key == "seconds":
            return f"{value:.1f}"
        return _format_value(value)

    table = [columns] + [[cell(key, row[key]) for key in columns] for row in shown]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = ["  ".join(text.rjust(width) for text, width in zip(line, widths)) for line in table]
    if limit is not None and len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more trials")
    return "\n".join(lines)


def write_csv(rows: list[dict], path: str | Path) -> Path:
    """Write the rows to ``path`` as CSV (every column, empty cells for missing values)."""
    path = Path(path)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]) if rows else list(FIXED_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def export_best(study, study_dir: str | Path) -> Path | None:
    """Write ``study_dir/best.json`` and copy the best trial's run directory to ``best/``.

    Returns the copy, or ``None`` if no trial completed or the best trial ran on another
    machine (``best.json`` then says which host and folder hold it).
    """
    optuna = import_optuna()
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return None
    best = study.best_trial
    destination = Path(study_dir) / "best"
    run_dir = best.user_attrs.get("run_dir")
    summary = {
        "study": study.study_name,
        "trial": best.number,
        "test_accuracy": best.value,
        "params": best.params,
        "host": best.user_attrs.get("host"),
        "run_dir": run_dir,
    }
    Path(study_dir).mkdir(parents=True, exist_ok=True)
    (Path(study_dir) / "best.json").write_text(json.dumps(summary, indent=2) + "\n")
    if run_dir is None or not (Path(run_dir) / "config.json").is_file():
        # Better than any trial run here: an older copy would be mistaken for the best.
        shutil.rmtree(destination, ignore_errors=True)
        return None
    staging = destination.with_name(".best.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(run_dir, staging)
    shutil.rmtree(destination, ignore_errors=True)
    staging.rename(destination)
    return destination
