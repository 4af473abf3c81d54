"""The single switch between the kernels and the reference: use_kernels, the env variable."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from minicnn.functional import conv as reference_conv
from minicnn.kernels import backend, kernels_enabled, use_kernels
from minicnn.nn.activation import ReLU
from minicnn.nn.container import Sequential
from minicnn.nn.conv import Conv2d
from minicnn.nn.pooling import MaxPool2d


@pytest.fixture(autouse=True)
def restore_the_switch():
    """Each test starts with the kernels on and leaves the switch as it found it."""
    with use_kernels(True):
        yield


def test_kernels_are_the_default():
    code = "from minicnn.kernels import kernels_enabled; print(kernels_enabled())"
    env = {key: value for key, value in os.environ.items() if key != "MINICNN_KERNELS"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "True", "the fast kernels must be on by default"
    assert backend("conv").__name__ == "minicnn.kernels.conv"


def test_call_switches_for_good_and_context_manager_restores():
    use_kernels(False)
    assert not kernels_enabled(), "use_kernels(False) must switch to the reference"
    assert backend("conv") is reference_conv
    with use_kernels(True):
        assert kernels_enabled(), "inside `with use_kernels(True)` the kernels are on"
        with use_kernels(False):
            assert not kernels_enabled(), "nested blocks switch too"
        assert kernels_enabled(), "leaving a nested block restores its outer choice"
    assert not kernels_enabled(), "leaving the block restores the choice before it"


def test_context_manager_restores_after_an_error():
    with pytest.raises(RuntimeError), use_kernels(False):
        raise RuntimeError("boom")
    assert kernels_enabled(), "an exception inside the block must still restore the choice"


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="use_kernels: expected True or False"):
        use_kernels(0)
    with pytest.raises(ValueError, match="unknown op 'dropout'"):
        backend("dropout")
    assert kernels_enabled(), "a refused argument must not change the choice"


@pytest.mark.parametrize("value, expected", [("0", "False"), ("false", "False"),
                                             ("1", "True"), ("", "True")])
def test_environment_variable_sets_the_start_value(value, expected):
    code = "from minicnn.kernels import kernels_enabled; print(kernels_enabled())"
    env = dict(os.environ, MINICNN_KERNELS=value)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == expected, f"MINICNN_KERNELS={value!r}: {result.stderr}"


def test_import_minicnn_does_not_import_numba():
    code = ("import sys, minicnn, minicnn.nn.conv, minicnn.nn.container; "
            "print('numba' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False", "numba must be imported on first kernel use only"


def test_layers_follow_the_switch():
    model = Sequential(Conv2d(1, 2, 3), ReLU(), MaxPool2d(2))
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    with use_kernels(False):
        model(x)
        assert model._steps == list(model), "the reference runs every layer on its own"
        model[0](x)
        assert model[0]._ops is reference_conv, "Conv2d must call the reference"
    model(x)
    assert type(model._steps[0]).__name__ == "ConvReLUMaxPool", "the kernels fuse the block"
    model[0](x)
    assert model[0]._ops is backend("conv"), "Conv2d must call the kernels"
