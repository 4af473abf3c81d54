"""minicnn.kernels._memory: freed arrays are reused instead of faulting in fresh pages."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the thresholds are glibc's",
)

# Allocate, touch and free a 1 MiB array 50 times (what a layer's output does every step),
# after the kernels were imported; print the page faults that cost.
FAULTS_PER_ARRAY = """
import resource
import numpy as np
import minicnn.kernels.conv  # uses the kernels: keep_freed_memory() runs
from minicnn.kernels._memory import keep_freed_memory
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    array = np.empty(2**18, dtype=np.float32)
    array[:] = 1.0
    del array
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
print(faults / 50, keep_freed_memory())
"""


def faults_per_array(**environment) -> float:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_")}
    env.update(environment)
    result = subprocess.run([sys.executable, "-c", FAULTS_PER_ARRAY], env=env,
                            capture_output=True, text=True, check=True)
    faults, called_again = result.stdout.split()
    assert called_again == "False", "keep_freed_memory must act once per process"
    return float(faults)


def test_a_freed_array_is_reused_without_page_faults():
    # 1 MiB is 256 pages: without the raised thresholds each allocation faults them all in.
    assert faults_per_array() < 16


def test_the_environment_choice_wins():
    assert faults_per_array(MALLOC_MMAP_THRESHOLD_=str(2**17)) > 128, \
        "a threshold set in the environment must be left alone"
