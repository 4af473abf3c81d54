"""Small real training runs shared by the training, tuning and command-line tests.

Real runs through the Trainer on a few hundred MNIST images: small enough to run a handful in
seconds on a shared machine, real all the same.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["TIMING_KEYS", "TINY_FIXED", "TINY_TRAINING", "assert_same_run",
           "assert_same_state", "trainer_config", "without_timing"]

# Every training setting of the tiny tuning studies, as `minicnn tune` options and as a dict.
TINY_TRAINING = ["--limit-train", "400", "--limit-test", "200", "--epochs", "1",
                 "--optimizer", "adam", "--scheduler", "none", "--weight-decay", "0"]
TINY_FIXED = {"limit_train": 400, "limit_test": 200, "epochs": 1, "optimizer": "adam",
              "scheduler": "none", "weight_decay": 0.0}

TIMING_KEYS = ("images_per_second", "train_seconds")
"""The keys of a metrics record that differ between two runs of the same training."""


def trainer_config(tmp_path, **overrides):
    """A :class:`~minicnn.train.config.TrainConfig` of two epochs on 1,000 images (test 500),
    writing under ``tmp_path/runs``; ``overrides`` replace any setting (``data_dir`` too)."""
    from minicnn.train.config import TrainConfig

    values = dict(data_dir=None, out_dir=str(tmp_path / "runs"), epochs=2, limit_train=1000,
                  limit_test=500)
    values.update(overrides)
    return TrainConfig(**values)


def without_timing(records: list[dict]) -> list[dict]:
    return [{key: value for key, value in record.items() if key not in TIMING_KEYS}
            for record in records]


def assert_same_state(actual, expected, where: str = "state") -> None:
    """Equal nested states: same types (Counter stays Counter, tuple stays tuple), same arrays."""
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{where}: {type(actual).__name__}, not ndarray"
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same_state(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same_state(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and math.isnan(expected):
        assert isinstance(actual, float) and math.isnan(actual), where
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
        if isinstance(expected, (bool, int, float, str)):
            assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"


def assert_same_run(resumed, straight) -> None:
    """Two :class:`~minicnn.train.trainer.Trainer` runs ended identically: weights,
    optimiser, scheduler, data order, metrics (but their timings), best accuracy, epochs."""
    for key, value in straight.model.state_dict().items():
        assert np.array_equal(resumed.model.state_dict()[key], value), (
            f"{key} differs between the resumed run and the straight one")
    assert_same_state(resumed.optimizer.state_dict(), straight.optimizer.state_dict(),
                      "optimizer")
    if straight.scheduler is not None:
        assert_same_state(resumed.scheduler.state_dict(), straight.scheduler.state_dict(),
                          "scheduler")
    assert_same_state(resumed.train_loader.state_dict(), straight.train_loader.state_dict(),
                      "train_loader")
    assert without_timing(resumed.run_dir.read_metrics()) == without_timing(
        straight.run_dir.read_metrics())
    assert resumed.best_accuracy == straight.best_accuracy
    assert resumed.epochs_done == straight.epochs_done
