"""minicnn.threads: BLAS pinning inside kernels, split products, the thread-count setting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minicnn.threads import blas_threads, run_split, set_num_threads


def blas_thread_counts() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_blas_threads_pins_inside_the_block_and_restores_after():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        with blas_threads():
            assert blas_thread_counts() == [1] * len(before), "BLAS must run on one thread"
        assert blas_thread_counts() == before, "the previous count must come back"
        with pytest.raises(RuntimeError), blas_threads():
            raise RuntimeError("boom")
        assert blas_thread_counts() == before, "restored after an error too"


def test_run_split_runs_every_part_once_in_order_on_several_threads():
    seen_threads = set()

    def task(part):
        seen_threads.add(threading.get_ident())
        return part * 10

    assert run_split(task, 1) == [0]
    assert run_split(task, 3) == [0, 10, 20], "results must come back in part order"
    assert threading.get_ident() in seen_threads, "part 0 runs on the calling thread"
    assert len(seen_threads) >= 2, "the other parts run on helper threads"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_set_num_threads_refuses_bad_counts(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive thread count"):
        set_num_threads(bad)


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_numba_threads_wait_passively_unless_the_environment_chose(preset, expected):
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if preset is not None:
        env["OMP_WAIT_POLICY"] = preset
    code = ("import os; import minicnn.kernels.conv; "
            "print(os.environ.get('OMP_WAIT_POLICY'))")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == expected
