"""minicnn.threads: BLAS pinning inside kernels, split products, the thread-count setting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minicnn.threads import blas_threads, set_num_threads


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


def test_nested_blas_threads_blocks_leave_the_count_to_the_outermost():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        with blas_threads():
            with blas_threads():
                assert blas_thread_counts() == [1] * len(before)
            assert blas_thread_counts() == [1] * len(before), \
                "leaving an inner block must not restore the count under the outer one"
            with pytest.raises(RuntimeError), blas_threads():
                raise RuntimeError("boom")
            assert blas_thread_counts() == [1] * len(before)
        assert blas_thread_counts() == before, "the outermost block restores the count"


def test_blas_threads_blocks_on_two_threads_restore_only_when_both_left():
    # (threadpoolctl lets only one thread, the first to set them, change OpenBLAS's limits,
    # so the main thread opens the first block here.)
    def other_thread():
        with blas_threads():
            pass

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_thread_counts()
        with blas_threads():
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join(10)
            assert blas_thread_counts() == [1] * len(before), \
                "a block ending on another thread must not unpin BLAS under this one"
        assert blas_thread_counts() == before


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


def test_a_blas_loaded_inside_an_open_block_is_pinned_too():
    # The kernels (and SciPy's BLAS with them) are imported inside the first forward's
    # block: that BLAS must run on one thread at once, and get its count back after.
    code = """
import numpy
from threadpoolctl import threadpool_info, threadpool_limits
from minicnn.threads import blas_threads
def counts():
    return {info["filepath"]: info["num_threads"] for info in threadpool_info()
            if info["user_api"] == "blas"}
with threadpool_limits(limits=2, user_api="blas"):
    before = counts()
    with blas_threads():
        import minicnn.kernels.conv  # loads SciPy's BLAS, at 2 threads by default here
        inside = counts()
    after = counts()
assert len(inside) > len(before), "SciPy's BLAS was loaded inside the block"
assert set(inside.values()) == {1}, inside
assert all(count == 2 for count in after.values()), after
print("ok")
"""
    env = {key: value for key, value in os.environ.items()
           if key not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True)
    assert result.stdout.strip() == "ok", result.stderr
