"""Where a study lives: a SQLite file in the study directory, or a shared database.

Every storage is an Optuna ``RDBStorage`` with heartbeats: each worker writes a heartbeat for
its running trial every ``heartbeat`` seconds, and a trial silent for twice that long (its
worker was killed, its machine lost) is marked failed by the next worker that looks and run
again once with the same parameters. Without heartbeats such a trial would stay "running"
forever and the study would never reach its number of trials.

Optuna fails only trials that have a heartbeat: a worker killed between starting a trial and
its first heartbeat (a few milliseconds, but it happens) leaves one it never fails.
:class:`DeadTrialReaper` closes that gap.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from minicnn.tune._optuna import import_optuna, require_psycopg2

__all__ = ["DEFAULT_HEARTBEAT", "DeadTrialReaper", "default_storage_url", "open_storage",
           "redact_url"]

DEFAULT_HEARTBEAT = 30
"""Seconds between a worker's heartbeats; a trial silent for twice this is presumed dead."""

CREATE_ATTEMPTS = 4
"""Tries at opening a storage whose tables another worker may be creating at that moment."""

SQLITE_LOCK_TIMEOUT = 60
"""Seconds a SQLite writer waits for the file lock; several local workers share one file."""


def default_storage_url(study_dir: str | Path) -> str:
    """The SQLite file ``study.db`` in the study directory, as a storage URL."""
    return f"sqlite:///{(Path(study_dir) / 'study.db').resolve()}"


def redact_url(url: str) -> str:
    """``url`` without its password, fit for printing: ``postgresql://user:***@host/db``."""
    scheme, separator, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not separator or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"


def open_storage(url: str, heartbeat: int = DEFAULT_HEARTBEAT):
    """An Optuna storage for ``url`` (``sqlite:///...`` or ``postgresql://...``)."""
    optuna = import_optuna()
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 1:
        raise ValueError(f"heartbeat must be a positive number of seconds, got {heartbeat!r}")
    engine_kwargs = {}
    if url.startswith("sqlite"):
        # SQLite locks the whole file for each write: wait for it instead of failing with
        # "database is locked" when two local workers finish a trial at the same moment.
        engine_kwargs["connect_args"] = {"timeout": SQLITE_LOCK_TIMEOUT}
    elif url.startswith(("postgresql://", "postgresql+psycopg2://")):
        require_psycopg2()
        # Name the driver: SQLAlchemy's default for postgresql:// changed from psycopg2
        # (2.0) to psycopg 3 (2.1), and psycopg2 is the one the `tune` extra installs.
        url = "postgresql+psycopg2://" + url.split("://", 1)[1]
        # A connection idle through a long trial may have been closed by the server.
        engine_kwargs["pool_pre_ping"] = True
    from sqlalchemy.exc import DBAPIError

    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            with warnings.catch_warnings():
                # Heartbeats and their retry callback are marked experimental; their
                # behaviour is what this module needs.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat,
                    grace_period=2 * heartbeat, heartbeat_stale_trial_callback=retry)
        except DBAPIError:
            # Workers started together on a new database all create its tables; all but
            # one fail on a duplicate (PostgreSQL: pg_type_typname_nsp_index) and find the
            # tables there when they try again.
            if attempt == CREATE_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


class DeadTrialReaper:
    """Fails the running trials of a study whose worker died, so they can be run again.

    Call :meth:`reap` now and then (a worker does, before each trial and while it waits for
    the last trials). It runs Optuna's check (trials whose heartbeat stopped), and gives a
    heartbeat, once, to each trial it sees running on two calls in a row: a live worker has
    long recorded its own by then (so this one only refreshes it), and a trial whose worker
    died before its first heartbeat now has one that stops, and is failed a grace period
    later like any other.
    """

    def __init__(self, storage, study_name: str):
        self.storage = storage
        self.study_id = storage.get_study_id_from_name(study_name)
        self._seen: set[int] = set()  # trial numbers running at the last call
        self._given: set[int] = set()  # trials given a heartbeat here

    def reap(self, study) -> None:
        optuna = import_optuna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        running = {trial.number for trial in study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))}
        for number in sorted((running & self._seen) - self._given):
            trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id,
                                                                            number)
            self.storage.record_heartbeat(trial_id)
            self._given.add(number)
        self._seen = running
