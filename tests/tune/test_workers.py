"""minicnn.tune.workers: the cores split between local workers, and a study run by two."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from minicnn.tune import SearchSpace, tune
from minicnn.tune.workers import available_cores, threads_per_worker, worker_seed
from tests.helpers.training import TINY_FIXED


@pytest.mark.parametrize(("workers", "threads", "cores", "expected"), [
    (1, None, 8, 8),
    (2, None, 8, 4),
    (3, None, 8, 2),  # 3 x 2 <= 8: the spare cores stay free rather than oversubscribe
    (2, None, 2, 1),
    (2, 3, 8, 3),
    (4, 2, 8, 2),
])
def test_threads_per_worker_keep_workers_times_threads_within_the_cores(workers, threads,
                                                                        cores, expected):
    result = threads_per_worker(workers, threads, cores)
    assert result == expected
    assert workers * result <= cores


@pytest.mark.parametrize(("workers", "threads", "cores", "message"), [
    (3, None, 2, "3 workers on 2 cores: each worker needs a core of its own; use at most 2 "
                 "here, and more machines for more"),
    (2, 3, 4, "2 workers x 3 threads = 6 threads on 4 cores; use at most 2 threads per worker"),
    (0, None, 4, "workers must be positive, got 0"),
])
def test_oversubscription_is_refused_with_the_numbers(workers, threads, cores, message):
    with pytest.raises(ValueError) as error:
        threads_per_worker(workers, threads, cores)
    assert str(error.value) == message


def test_worker_seeds_differ_between_workers():
    seeds = {worker_seed(0, index) for index in range(4)}
    assert len(seeds) == 4
    assert worker_seed(None, 1) is None


def test_two_local_workers_share_the_study_and_the_cores(mnist_dir, tmp_path):
    if available_cores() < 2:
        pytest.fail("this test needs 2 cores: two workers of one thread each")
    result = tune(SearchSpace.parse(["lr=1e-3:0.1:log", "batch_size=32,64"]), TINY_FIXED,
                  n_trials=4, workers=2, study_dir=tmp_path, data_dir=str(mnist_dir),
                  startup_trials=2, progress=False, plots=False)
    trials = result.study.trials
    assert [t.number for t in trials] == list(range(len(trials)))
    assert 4 <= len(trials) <= 5  # two workers may start their last trials at once
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, f"expected trials from two worker processes, got {workers}"
    # Every trial's run is in this study folder, one run per trial.
    runs = sorted(path.resolve() for path in (tmp_path / "trials").iterdir())
    assert runs == sorted(Path(t.user_attrs["run_dir"]) for t in trials)
    assert result.best_accuracy == max(t.value for t in trials)
    assert (tmp_path / "best" / "best.safetensors").is_file()
