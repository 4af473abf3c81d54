"""The tiny studies of the tuning tests: a few hundred MNIST images, one epoch a trial.

Real trials through the Trainer, small enough to run a handful in seconds.
"""

from __future__ import annotations

import os
import sys

from tests.conftest import REPO_ROOT

# Every training setting of the tiny studies, as `minicnn tune` options.
TINY_TRAINING = ["--limit-train", "400", "--limit-test", "200", "--epochs", "1",
                 "--optimizer", "adam", "--scheduler", "none", "--weight-decay", "0"]
TINY_FIXED = {"limit_train": 400, "limit_test": 200, "epochs": 1, "optimizer": "adam",
              "scheduler": "none", "weight_decay": 0.0}


def minicnn_command(*args: str) -> list[str]:
    """``python -m minicnn ARGS`` with this interpreter."""
    return [sys.executable, "-m", "minicnn", *args]


def subprocess_env() -> dict:
    """The environment of a ``minicnn`` subprocess: this checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env
