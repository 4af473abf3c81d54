"""minicnn.tune.storage: a study shared through PostgreSQL, and a SQLite study killed and resumed.

Both run ``minicnn tune`` as separate processes, the way users run them: two "machines" (two
processes with their own study folders) joining one study on a real PostgreSQL server, and a
worker killed with SIGKILL mid-trial whose study is then resumed by the same command.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from minicnn.tune.storage import (
    DeadTrialReaper,
    default_storage_url,
    open_storage,
    redact_url,
)
from tests.helpers.processes import minicnn_command, subprocess_env
from tests.helpers.training import TINY_TRAINING

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def trial_run_dirs(study_dir: Path) -> list[Path]:
    return sorted((study_dir / "trials").iterdir())


def last_test_accuracy(run_dir: Path) -> float:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return records[-1]["test_accuracy"]


def test_redact_url_hides_only_the_password():
    assert redact_url("postgresql://ann:s3cret@db:5432/tune") == "postgresql://ann:***@db:5432/tune"
    assert redact_url("postgresql://ann@db/tune") == "postgresql://ann@db/tune"
    assert redact_url("sqlite:////tmp/a@b/study.db") == "sqlite:////tmp/a@b/study.db"


def test_open_storage_rejects_a_bad_heartbeat(tmp_path):
    with pytest.raises(ValueError, match="heartbeat must be a positive number of seconds, got 0"):
        open_storage(default_storage_url(tmp_path), heartbeat=0)


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_retried(tmp_path):
    storage = open_storage(default_storage_url(tmp_path), heartbeat=1)
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    # study.ask() starts a trial without a heartbeat: a worker killed right after it.
    with pytest.warns(UserWarning, match="Heartbeat of storage is supposed to be used"):
        dead = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1.0,
                                                                           log=True)})
    reaper = DeadTrialReaper(storage, "s")
    reaper.reap(study)
    assert dead.number in reaper._seen  # seen running once: left alone
    # Optuna's own check never fails a trial without a heartbeat, however long it waits ...
    # (past the grace period of 2 s, as SQLite's clock counts: in whole seconds)
    time.sleep(3.2)
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        optuna.storages.fail_stale_trials(study)
    assert study.trials[0].state == optuna.trial.TrialState.RUNNING
    # ... the reaper gives it one on seeing it running again, which then stops.
    reaper.reap(study)
    time.sleep(3.2)
    reaper.reap(study)
    states = [trial.state for trial in study.trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    retry = study.trials[1]
    assert retry.params == study.trials[0].params
    assert retry.system_attrs["failed_trial"] == dead.number


def test_two_workers_share_one_study_through_postgresql(postgres_url, mnist_dir, tmp_path):
    n_trials = 8
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    command = ["tune", "--storage", postgres_url, "--study-name", "shared",
               "--param", "lr=1e-3:0.1:log", "--param", "batch_size=32,64",
               "--n-trials", str(n_trials), "--startup-trials", "2", "--threads", "1",
               "--data-dir", str(mnist_dir), "--no-progress", "--no-plots", *TINY_TRAINING]
    # Started together, like workers on two machines: each with its own study folder.
    workers = [subprocess.Popen(minicnn_command(*command, "--study-dir", str(machine)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=subprocess_env())
               for machine in machines]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (stdout, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, f"a worker failed:\n{stdout}\n{stderr}"

    study = optuna.load_study(study_name="shared", storage=open_storage(postgres_url))
    trials = study.get_trials()
    numbers = [trial.number for trial in trials]
    assert numbers == list(range(len(trials))), f"trial numbers not 0..n-1: {numbers}"
    assert all(trial.state in FINISHED for trial in trials), [t.state for t in trials]
    # Workers stop at n_trials; two that start their last trials at the same moment may
    # pass it by one (a worker counts, then starts: the two steps are not one transaction).
    assert n_trials <= len(trials) <= n_trials + 1

    # Each trial was run by exactly one worker, whose folder holds its run, and each run in
    # either folder is a trial of the study: none lost, none run twice.
    on_disk = {path.resolve(): machine for machine in machines
               for path in trial_run_dirs(machine)}
    recorded = {Path(trial.user_attrs["run_dir"]): trial for trial in trials}
    assert len(recorded) == len(trials), "two trials claim one run directory"
    assert set(on_disk) == set(recorded)
    for run_dir, trial in recorded.items():
        assert run_dir.name.startswith(f"trial-{trial.number:04d}-")
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.value == pytest.approx(last_test_accuracy(run_dir))
    # Both workers took part, and each trial names the worker whose folder holds its run.
    workers_by_machine = {machine: {recorded[path].user_attrs["worker"]
                                    for path, owner in on_disk.items() if owner == machine}
                          for machine in machines}
    assert all(len(names) == 1 for names in workers_by_machine.values()), workers_by_machine
    assert len(set.union(*workers_by_machine.values())) == 2, workers_by_machine
    # Each worker ends with the whole study's results, its own trials and the other's.
    for machine, (stdout, _) in zip(machines, outputs):
        csv_rows = (machine / "trials.csv").read_text().splitlines()
        assert len(csv_rows) == 1 + len(trials)
        assert stdout.splitlines()[0] == (
            f"study shared in {redact_url(postgres_url)}"), stdout


def wait_for(condition, timeout: float = 120.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition.__doc__}")


def test_a_study_killed_mid_trial_resumes_and_retries_the_lost_trial(mnist_dir, tmp_path):
    study_dir = tmp_path / "study"
    # 2,000 images a trial: long enough to be killed in the middle of one.
    training = [*TINY_TRAINING, "--limit-train", "2000"]
    command = minicnn_command(
        "tune", "--param", "lr=1e-3:0.1:log", "--n-trials", "3", "--study-dir", str(study_dir),
        "--heartbeat", "1", "--threads", "1", "--data-dir", str(mnist_dir), "--no-progress",
        "--no-plots", *training)
    env = {**subprocess_env(), "PYTHONUNBUFFERED": "1"}  # its lines as they are printed
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    try:
        for line in worker.stdout:
            if line.startswith("trial 0 complete"):
                break
        else:
            pytest.fail(f"the worker ended before its first trial: {worker.communicate()}")
        # The study exists now (opening the file earlier would race the worker creating it).
        storage = open_storage(default_storage_url(study_dir))

        def second_trial_running():
            """the second trial to start"""
            study = optuna.load_study(study_name="lenet5-mnist", storage=storage)
            return [trial.state for trial in study.get_trials()] == [
                optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING]

        wait_for(second_trial_running)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
    before = optuna.load_study(study_name="lenet5-mnist", storage=storage).get_trials()
    killed = before[1]

    # The same command resumes: after two heartbeats of silence the killed trial is failed
    # and run again with its parameters; the study ends with 3 finished trials.
    resumed = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(),
                             timeout=300)
    assert resumed.returncode == 0, f"{resumed.stdout}\n{resumed.stderr}"
    trials = optuna.load_study(study_name="lenet5-mnist", storage=storage).get_trials()
    states = [trial.state for trial in trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    assert trials[1].state == optuna.trial.TrialState.FAIL
    assert sum(state in FINISHED for state in states) == 3
    assert len(trials) == 4
    # The first trial is kept as it was, not run again.
    assert trials[0].value == before[0].value and trials[0].params == before[0].params
    (retry,) = [trial for trial in trials if trial.system_attrs.get("failed_trial") == 1]
    assert retry.params == killed.params and retry.state in FINISHED
    assert f"trial {retry.number} complete (retry of trial 1)" in resumed.stdout
    assert "trial 1 failed" in resumed.stdout
    # The table of the resumed run has all four trials.
    assert len((study_dir / "trials.csv").read_text().splitlines()) == 1 + 4
