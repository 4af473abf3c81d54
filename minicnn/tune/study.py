"""A study and its workers' loop: what every worker, on any machine, runs.

A study is identified by its storage URL and name. Creating it stores, beside its trials,
what defines it: the search space and the fixed training settings. A worker that joins it
(another process, another machine, the same command run again after an interruption) uses
those, so every trial of the study is drawn from one space and trained the same way; a
worker that asks for a different space or different settings is refused with the
difference named.

Only the settings of the machine (where the data is, where runs go, threads) are not stored:
each worker gives its own.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from minicnn.train.config import TrainConfig
from minicnn.tune._optuna import import_optuna
from minicnn.tune.objective import Objective
from minicnn.tune.space import SearchSpace
from minicnn.tune.storage import DEFAULT_HEARTBEAT, DeadTrialReaper, open_storage, redact_url

__all__ = [
    "LOCAL_SETTINGS",
    "PRUNERS",
    "SAMPLERS",
    "StudyOptions",
    "count_trials",
    "load_study",
    "prepare_study",
    "run_worker",
]

LOCAL_SETTINGS = ("data_dir", "out_dir", "threads")
"""TrainConfig settings that belong to a machine, not to the study."""

PRUNERS = ("median", "halving", "none")
SAMPLERS = ("tpe", "random")

_SPACE, _FIXED = "minicnn.space", "minicnn.fixed"

STORED_DEFINITION_WAIT = 30.0
"""Seconds a worker waits for the creator of a study to store its definition."""

TRIAL_DEFAULTS = {"epochs": 2}
"""Settings in which a new study's trials differ from TrainConfig's defaults: a trial is a
short run (the pruner stops the bad ones sooner still)."""


@dataclass
class StudyOptions:
    """How to reach a study and run its trials on this machine (picklable, for workers).

    Attributes:
        name: the study's name in its storage.
        storage: an Optuna storage URL (``sqlite:///...``, ``postgresql://...``).
        study_dir: this machine's folder for the trials' run directories and the results.
        n_trials: finished (complete or pruned) trials after which workers stop.
        local: the machine's settings (``data_dir``, ``threads``); the runs go to
            ``study_dir/trials``.
        sampler, pruner: names from :data:`SAMPLERS`, :data:`PRUNERS`.
        startup_trials: trials drawn at random before TPE models the space; also the
            trials the pruner waits for before it compares.
        seed: seed of the sampler (``None``: a fresh one).
        heartbeat: seconds between heartbeats (see :mod:`minicnn.tune.storage`).
    """

    name: str
    storage: str
    study_dir: str
    n_trials: int
    local: dict = field(default_factory=dict)
    sampler: str = "tpe"
    pruner: str = "median"
    startup_trials: int = 5
    seed: int | None = 0
    heartbeat: int = DEFAULT_HEARTBEAT

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"pruner must be one of {PRUNERS}, got {self.pruner!r}")
        if self.n_trials < 1:
            raise ValueError(f"n_trials must be positive, got {self.n_trials}")
        if self.startup_trials < 0:
            raise ValueError(f"startup_trials must be zero or more, got {self.startup_trials}")
        unknown = set(self.local) - {"data_dir", "threads"}
        if unknown:
            raise ValueError(f"local settings are data_dir and threads, got {sorted(unknown)}")

    @property
    def trials_dir(self) -> Path:
        return Path(self.study_dir) / "trials"


def make_sampler(options: StudyOptions):
    optuna = import_optuna()
    if options.sampler == "random":
        return optuna.samplers.RandomSampler(seed=options.seed)
    return optuna.samplers.TPESampler(n_startup_trials=options.startup_trials, seed=options.seed)


def make_pruner(options: StudyOptions, epochs: int):
    optuna = import_optuna()
    if options.pruner == "none" or epochs < 2:
        # One epoch gives nothing to prune at (the last epoch is never pruned).
        return optuna.pruners.NopPruner()
    if options.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    return optuna.pruners.MedianPruner(n_startup_trials=options.startup_trials)


def _study_settings(space: SearchSpace, fixed: dict) -> dict:
    """Every setting of the study's base config that is neither local nor tuned."""
    misplaced = set(fixed) & set(LOCAL_SETTINGS)
    if misplaced:
        raise ValueError(f"{sorted(misplaced)} belong to a machine, not to a study: pass them "
                         "as options (--data-dir, --out-dir, --threads)")
    both = set(fixed) & set(space.names)
    if both:
        raise ValueError(f"{sorted(both)} both tuned and fixed: remove one")
    settings = TrainConfig.from_dict({**TRIAL_DEFAULTS, **fixed}).to_dict()
    return {key: value for key, value in settings.items()
            if key not in LOCAL_SETTINGS and key not in space.names}


def _differences(stored: dict, given: dict) -> list[str]:
    return [f"{key}={stored.get(key)!r} (asked: {value!r})" for key, value in given.items()
            if stored.get(key) != value]


def _created_study(options: StudyOptions, storage, space: SearchSpace, fixed: dict):
    """Create the study and store what defines it; ``None`` if another worker just did."""
    optuna = import_optuna()
    settings = _study_settings(space, fixed)
    try:
        study = optuna.create_study(study_name=options.name, storage=storage,
                                    direction="maximize")
    except optuna.exceptions.DuplicatedStudyError:
        return None
    study.set_user_attr(_FIXED, settings)
    # The space last: a worker that finds it knows the study is ready.
    study.set_user_attr(_SPACE, space.to_dict())
    return study


def _stored_definition(options: StudyOptions, study) -> dict:
    """The study's user attributes, once its creator (maybe another worker) has stored them."""
    deadline = time.monotonic() + STORED_DEFINITION_WAIT
    while _SPACE not in study.user_attrs:
        if time.monotonic() > deadline:
            raise ValueError(f"study {options.name!r} in {redact_url(options.storage)} was not "
                             "created by minicnn tune (it stores no search space)")
        time.sleep(0.2)
    return study.user_attrs


def prepare_study(options: StudyOptions, space: SearchSpace | None = None,
                  fixed: dict | None = None, storage=None):
    """Create the study, or join it; returns ``(study, space, base_config)``.

    A new study needs ``space`` and stores it with ``fixed`` (settings over TrainConfig's
    defaults and :data:`TRIAL_DEFAULTS`). An existing study keeps what it stored: ``space``
    and ``fixed``, if given, must agree with it. ``storage``: an open storage of
    ``options.storage`` to use.
    """
    optuna = import_optuna()
    fixed = dict(fixed or {})
    if storage is None:
        storage = open_storage(options.storage, options.heartbeat)
    study = None
    if options.name not in optuna.study.get_all_study_names(storage):
        if space is None or not len(space):
            raise ValueError(f"study {options.name!r} does not exist yet: give a search space "
                             "(--param NAME=SPEC or --space FILE) to create it")
        study = _created_study(options, storage, space, fixed)
    if study is None:  # it existed, or another worker created it a moment ago
        study = optuna.load_study(study_name=options.name, storage=storage)
        attrs = _stored_definition(options, study)
        stored_space = SearchSpace.from_dict(attrs[_SPACE])
        if space is not None and len(space) and space != stored_space:
            raise ValueError(f"study {options.name!r} searches {stored_space}, not {space}: "
                             "choose another study name to search another space")
        differences = _differences(attrs[_FIXED], fixed)
        if differences:
            raise ValueError(f"study {options.name!r} trains with " + ", ".join(differences)
                             + ": choose another study name to train otherwise")
        space = stored_space
    settings = study.user_attrs[_FIXED]
    base = TrainConfig(**settings, **options.local, out_dir=str(options.trials_dir))
    return study, space, base


def load_study(options: StudyOptions, storage=None):
    """The study of ``options`` with this worker's sampler and pruner; ``(study, space, base)``.

    ``storage``: an open storage of ``options.storage`` to use.
    """
    optuna = import_optuna()
    if storage is None:
        storage = open_storage(options.storage, options.heartbeat)
    study, space, base = prepare_study(options, storage=storage)
    if options.seed is not None and study.trials:
        # A resumed study would otherwise draw its first parameters again: the seed's
        # sequence restarts. A fresh study keeps the seed, so the same call repeats.
        options = dataclasses.replace(
            options, seed=(options.seed + 1_000_003 * len(study.trials)) % 2**32)
    study = optuna.load_study(study_name=options.name, storage=storage,
                              sampler=make_sampler(options),
                              pruner=make_pruner(options, base.epochs))
    return study, space, base


def count_trials(study) -> dict[str, int]:
    """How many trials of ``study`` are in each state: ``{"COMPLETE": 3, "PRUNED": 1, ...}``."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def run_worker(options: StudyOptions, on_trial=None, on_epoch=None,
               poll_seconds: float | None = None) -> list[int]:
    """Run trials of the study until it has ``options.n_trials`` finished ones.

    Several workers (processes, machines) may run this on one study at once. Before each
    trial a worker fails the trials whose worker died (see
    :class:`~minicnn.tune.storage.DeadTrialReaper`; their retries are queued) and counts: it
    starts a trial only while finished + running trials fall short of the target, and while
    the last trials run elsewhere it waits, in case one of them dies and needs a retry.
    ``on_trial(study, frozen_trial)`` is called after each trial run here,
    ``on_epoch(trial, report)`` after each epoch. Returns the numbers of the trials run here.
    """
    storage = open_storage(options.storage, options.heartbeat)
    study, space, base = load_study(options, storage)
    reaper = DeadTrialReaper(storage, options.name)
    objective = Objective(base, space, options.trials_dir, on_epoch=on_epoch)
    poll_seconds = min(5.0, options.heartbeat) if poll_seconds is None else poll_seconds
    callbacks = [on_trial] if on_trial is not None else []
    while True:
        reaper.reap(study)
        counts = count_trials(study)
        finished = counts.get("COMPLETE", 0) + counts.get("PRUNED", 0)
        running = counts.get("RUNNING", 0)
        if finished + running < options.n_trials:
            study.optimize(objective, n_trials=1, callbacks=callbacks)
        elif finished < options.n_trials:
            time.sleep(poll_seconds)
        else:
            return objective.trial_numbers

