"""minicnn.explore as a package: its exports, its files in the wheel, the shipped LeNet-5."""

from __future__ import annotations

import json
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

import minicnn.explore
from minicnn.data import MNIST, DataLoader
from minicnn.data.transforms import Normalize
from minicnn.explore.session import SHIPPED_WEIGHTS
from minicnn.train.loading import load_trained_model
from tests.helpers.processes import REPO_ROOT


def test_every_exported_name_exists():
    missing = [name for name in minicnn.explore.__all__ if not hasattr(minicnn.explore, name)]
    assert missing == [], f"names in __all__ but not in the package: {missing}"


def test_every_file_of_the_page_and_the_weights_is_package_data():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.10 has no TOML parser")
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["minicnn.explore"]
    package = Path(minicnn.explore.__file__).parent
    files = [path.relative_to(package).as_posix()
             for folder in ("static", "pretrained") for path in (package / folder).rglob("*")
             if path.is_file()]
    assert "static/index.html" in files and "pretrained/lenet5-mnist.safetensors" in files
    left_out = [name for name in files if not any(fnmatch(name, p) for p in patterns)]
    assert left_out == [], f"files the wheel would leave out: {left_out}"


def test_the_command_line_does_not_import_the_server():
    probe = ("import sys, minicnn.cli; "
             "print(sorted(m for m in ('starlette', 'uvicorn', 'minicnn.explore') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=REPO_ROOT)
    assert result.stdout.strip() == "[]", "minicnn's other commands do not pay for the server"


def test_the_shipped_lenet5_is_what_its_json_says(mnist_dir):
    about = json.loads(SHIPPED_WEIGHTS.with_suffix(".json").read_text())
    assert 200_000 < SHIPPED_WEIGHTS.stat().st_size < 300_000, "about 250 KB"
    assert about["command"].startswith("minicnn train")
    model, _ = load_trained_model(SHIPPED_WEIGHTS)
    test_set = MNIST(mnist_dir, train=False, transform=Normalize(MNIST.mean, MNIST.std))
    correct = sum(int(np.sum(model(images).argmax(axis=1) == labels))
                  for images, labels in DataLoader(test_set, batch_size=1000))
    accuracy = correct / len(test_set)
    assert abs(accuracy - about["test_accuracy"]) <= 5e-4, (
        f"measured {accuracy:.4f}, the JSON says {about['test_accuracy']} (at most 5 of the "
        "10,000 borderline images may round the other way on another CPU)")
