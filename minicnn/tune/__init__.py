"""Hyperparameter tuning with Optuna: studies of short training runs, on one or many machines.

* :mod:`~minicnn.tune.space`: the search space (``lr=1e-4:1e-1:log``, ``batch_size=32,64``)
  from the command line or a TOML/JSON file;
* :mod:`~minicnn.tune.objective`: one trial, a training run through the Trainer of
  ``minicnn train``, reporting test accuracy after each epoch to the pruner;
* :mod:`~minicnn.tune.storage`: SQLite in the study directory, or a shared PostgreSQL;
* :mod:`~minicnn.tune.study`: creating or joining a study, and the loop every worker runs;
* :mod:`~minicnn.tune.workers`: local worker processes, the cores split between them;
* :mod:`~minicnn.tune.progress`, :mod:`~minicnn.tune.results`, :mod:`~minicnn.tune.plots`:
  the progress bar, the table of trials and the best trial, the PNG plots;
* :mod:`~minicnn.tune.runner`: :func:`tune`, all of the above in one call.

Optuna is an optional dependency (``pip install 'minicnn-numpy[tune]'``); importing this
package works without it, and the first function that needs it says how to install it. The
names below are imported on first use, so the command line's parser stays light.
"""

from __future__ import annotations

import importlib

# name -> the module that defines it
_LAZY = {
    "MissingDependencyError": "minicnn.tune._optuna",
    "SearchSpace": "minicnn.tune.space",
    "TUNABLE": "minicnn.tune.space",
    "load_space_file": "minicnn.tune.space",
    "TuneResult": "minicnn.tune.runner",
    "tune": "minicnn.tune.runner",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'minicnn.tune' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
