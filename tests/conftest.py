"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# Hypothesis: no per-example deadline (the machines are shared and noisy; timing is the
# benchmark suite's business), and the same examples on every run in CI so a failure repeats.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def find_mnist_dir() -> Path:
    """The four MNIST IDX files: ``$MINICNN_MNIST_DIR`` or ``../shared/data/mnist``."""
    configured = os.environ.get("MINICNN_MNIST_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = find_mnist_dir()
    if not (path / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(
            f"MNIST not found at {path}: set MINICNN_MNIST_DIR to the folder holding the four "
            "IDX .gz files"
        )
    return path
