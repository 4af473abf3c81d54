"""``tune()``: run a study to its number of trials and write its results, in one call.

::

    from minicnn.tune import SearchSpace, tune

    space = SearchSpace.parse(["lr=1e-3:0.3:log", "batch_size=32,64,128"])
    result = tune(space, {"epochs": 2}, n_trials=20, data_dir="data/mnist")
    print(result.best_params, result.best_accuracy)

The study directory (default ``runs/tune-<study name>``) holds everything::

    STUDY_DIR/
      study.db                 the study (SQLite; absent with another --storage)
      trials/trial-0007-.../   one run directory per trial run on this machine
      trials.csv               one row per trial (state, accuracy, parameters, time, where)
      best/                    a copy of the best trial's run directory
      best.json                the best trial's number, accuracy and parameters
      plots/*.png              optimisation history, importances, parallel coordinates

Running the same call again continues the study: an interrupted study resumes, a finished
one is extended by a larger ``n_trials``. With ``workers > 1`` call it under
``if __name__ == "__main__":`` (the workers are spawned processes that import your script).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from minicnn.tune._optuna import import_optuna
from minicnn.tune.plots import write_plots
from minicnn.tune.progress import TrialProgress
from minicnn.tune.results import export_best, trial_rows, write_csv
from minicnn.tune.space import SearchSpace
from minicnn.tune.storage import DEFAULT_HEARTBEAT, default_storage_url
from minicnn.tune.study import StudyOptions, count_trials, prepare_study, run_worker
from minicnn.tune.workers import run_workers, threads_per_worker, worker_seed

__all__ = ["TuneResult", "default_study_dir", "tune"]


@dataclass
class TuneResult:
    """What a study reached, and where its results are."""

    study: object  # the optuna.Study
    study_dir: Path
    best_params: dict | None
    best_accuracy: float | None
    best_trial: int | None
    counts: dict[str, int]  # trials per state: {"COMPLETE": 12, "PRUNED": 6, ...}
    seconds: float  # wall time of this call's trials
    rows: list[dict] = field(default_factory=list)  # results.trial_rows, best first
    best_dir: Path | None = None  # the copy of the best trial's run directory
    plots: dict = field(default_factory=dict)  # plot stem -> PNG path, or why it was skipped


def default_study_dir(out_dir: str | Path, study_name: str) -> Path:
    return Path(out_dir) / f"tune-{study_name}"


def tune(space: SearchSpace | None = None, fixed: dict | None = None, *, n_trials: int = 20,
         study_name: str = "lenet5-mnist", out_dir: str | Path = "runs",
         study_dir: str | Path | None = None, storage: str | None = None, workers: int = 1,
         threads: int | None = None, data_dir: str | None = None, sampler: str = "tpe",
         pruner: str = "median", startup_trials: int = 5, seed: int | None = 0,
         heartbeat: int = DEFAULT_HEARTBEAT, progress: bool = True, plots: bool = True,
         on_study=None) -> TuneResult:
    """Run the study ``study_name`` until it has ``n_trials`` finished trials.

    Args:
        space: the parameters to tune (needed to create the study; when joining an existing
            one, ``None`` uses its stored space).
        fixed: training settings shared by every trial, over TrainConfig's defaults except
            2 epochs (e.g. ``{"epochs": 3, "limit_train": 10000}``); checked against an
            existing study's.
        n_trials: finished (complete or pruned) trials to reach, counting earlier ones.
        study_name, out_dir, study_dir: the study and its folder (default
            ``out_dir/tune-<study_name>``).
        storage: an Optuna storage URL shared by every worker (``postgresql://...``); default
            a SQLite file in the study directory.
        workers: worker processes on this machine (1: run in this process).
        threads: threads per worker (default: the cores split between the workers; with one
            worker, this process's setting is left as it is).
        data_dir: folder of the MNIST IDX files (default: minicnn's download cache).
        sampler: ``"tpe"`` (Optuna's default) or ``"random"``.
        pruner: ``"median"`` (stop a trial whose accuracy at an epoch is below the median of
            earlier trials at that epoch), ``"halving"`` (successive halving) or ``"none"``.
        startup_trials: random trials before TPE models the space, and trials the median
            pruner waits for.
        seed: the sampler's seed. One worker on the default storage gives the same trials
            for the same call; several workers each draw from their own seed.
        heartbeat: seconds between a worker's heartbeats (a trial silent for twice this is
            failed and retried once).
        progress: draw a progress bar over the trials (one line per trial is printed anyway).
        plots: write the PNG plots.
        on_study: called as ``on_study(study, space)`` once the study is open (to print
            what it searches).
    """
    optuna = import_optuna()
    study_dir = Path(study_dir) if study_dir is not None else default_study_dir(out_dir,
                                                                                study_name)
    study_dir.mkdir(parents=True, exist_ok=True)
    local_storage = default_storage_url(study_dir)
    storage = local_storage if storage is None else storage
    worker_threads = threads_per_worker(workers, threads) if workers > 1 else threads
    shared = workers > 1 or storage != local_storage
    options = StudyOptions(
        name=study_name, storage=storage, study_dir=str(study_dir), n_trials=n_trials,
        local={"data_dir": data_dir, "threads": worker_threads}, sampler=sampler,
        pruner=pruner, startup_trials=startup_trials,
        # Workers sharing a study must not all draw the same parameters from one seed.
        seed=worker_seed(seed, 0) if shared else seed, heartbeat=heartbeat)
    study, space, _ = prepare_study(options, space, fixed)
    if on_study is not None:
        on_study(study, space)
    bar = TrialProgress(study, n_trials, enabled=progress)
    start = time.perf_counter()
    # The bar prints a line per trial: Optuna's own line per trial would repeat it.
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(verbosity, optuna.logging.WARNING))
    try:
        if workers == 1:
            if threads is not None:
                from minicnn.threads import set_num_threads

                set_num_threads(threads)
            run_worker(options, on_trial=bar.update)
        else:
            run_workers(options, workers, worker_threads, progress=bar, study=study)
    finally:
        bar.close()
        optuna.logging.set_verbosity(verbosity)
    seconds = time.perf_counter() - start

    rows = trial_rows(study)
    write_csv(rows, study_dir / "trials.csv")
    best_dir = export_best(study, study_dir)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial if complete else None
    return TuneResult(
        study=study, study_dir=study_dir,
        best_params=best.params if best else None, best_accuracy=best.value if best else None,
        best_trial=best.number if best else None, counts=count_trials(study), seconds=seconds,
        rows=rows, best_dir=best_dir,
        plots=write_plots(study, study_dir / "plots") if plots else {})
