"""minicnn.kernels.split: parts run on helper threads that spin briefly, then sleep."""

from __future__ import annotations

import os
import threading

import numba
import pytest

from minicnn.kernels import split
from minicnn.kernels.split import post_all, run_split


@pytest.fixture(params=["spinning", "sleeping"])
def hand_off(request, monkeypatch):
    """Every test runs with the helpers spinning between parts (as on an idle machine) and
    with them going straight to sleep (as on a busy one)."""
    spinning = request.param == "spinning"
    monkeypatch.setattr(split, "spinning_allowed", lambda: spinning)
    return request.param


def test_run_split_runs_every_part_once_in_order_on_several_threads(hand_off):
    seen_threads = set()

    def task(part):
        seen_threads.add(threading.get_ident())
        return part * 10

    assert run_split(task, 1) == [0]
    assert run_split(task, 3) == [0, 10, 20], "results must come back in part order"
    assert threading.get_ident() in seen_threads, "part 0 runs on the calling thread"
    assert len(seen_threads) >= 2, "the other parts run on helper threads"


def test_run_split_raises_a_part_error_after_every_part_finished(hand_off):
    finished = []

    def task(part):
        if part == 1:
            raise ValueError("part 1 failed")
        finished.append(part)
        return part

    with pytest.raises(ValueError, match="part 1 failed"):
        run_split(task, 3)
    assert sorted(finished) == [0, 2], "the other parts still ran to the end"
    assert run_split(lambda part: part, 3) == [0, 1, 2], "the helpers survive an error"

    def first_fails(part):
        if part == 0:
            raise KeyError("part 0")
        return part

    with pytest.raises(KeyError):
        run_split(first_fails, 2)
    assert run_split(lambda part: part * 2, 2) == [0, 2]


def test_many_splits_in_a_row_each_see_their_own_task(hand_off):
    # Parts posted back to back while the helpers are still watching (or just went to
    # sleep) must each run exactly once, with their own task.
    for round_number in range(300):
        results = run_split(lambda part, r=round_number: (r, part), 3)
        assert results == [(round_number, 0), (round_number, 1), (round_number, 2)]


def test_a_helper_that_fell_asleep_is_woken(monkeypatch):
    monkeypatch.setattr(split, "spinning_allowed", lambda: True)
    monkeypatch.setattr(split, "HELPER_SPIN_SECONDS", 1e-6)  # gives up watching at once
    assert run_split(lambda part: part, 2) == [0, 1]
    helper = split._helpers[0]
    for _ in range(1000):  # it sleeps once its short watch is over
        if helper.words[0] == split.SLEEPING:
            break
        threading.Event().wait(0.001)
    assert helper.words[0] == split.SLEEPING
    assert run_split(lambda part: part * 3, 2) == [0, 3]


def test_spinning_only_while_a_core_is_spare(monkeypatch):
    monkeypatch.setattr(split, "_recent_runnable", [])
    monkeypatch.setattr(split, "_usable_cores", lambda: 2)
    # The average of the last four looks against 2 cores + 0.5: a lone blip of a third
    # thread is tolerated, a second busy program (3-4 threads ready to run) is not.
    for runnable, expected in [(1, True), (2, True), (3, True), (2, True), (4, False),
                               (4, False), (2, False), (2, False), (2, True)]:
        monkeypatch.setattr(split, "_load_checked_at", -1.0)
        monkeypatch.setattr(split, "_runnable_threads", lambda value=runnable: value)
        assert split.spinning_allowed() is expected, \
            f"looks {split._recent_runnable} on 2 cores"
    assert split._runnable_threads() >= 1, "this very thread is running"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_run_split_works_in_a_forked_child(hand_off):
    # The child has none of the parent's helper threads: it must start its own, not wait
    # forever on the parent's.
    assert run_split(lambda part: part, 2) == [0, 1]  # the parent's helper exists now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running pytest's exit handlers
        try:
            ok = run_split(lambda part: part + 1, 3) == [1, 2, 3]
        finally:
            os.write(write_end, b"ok" if ok else b"bad")
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.read(read_end, 8) == b"ok" and status == 0


@numba.njit(nogil=True)
def _post_then_return(helper_words, value):
    post_all(helper_words)
    return value


def test_helpers_started_from_the_callers_kernel(hand_off):
    # The caller's part posts to the watching helpers from inside Numba; many rounds, so
    # helpers are caught watching, asleep, and in between.
    def task(part, helper_words):
        return _post_then_return(helper_words, part * 7)

    for _ in range(300):
        assert run_split(task, 3, post_from_task=True) == [0, 7, 14]


def test_helpers_start_even_if_the_caller_fails_before_posting(hand_off):
    ran = []

    def task(part, helper_words):
        if part == 0:
            raise RuntimeError("part 0 failed before its kernel")
        ran.append(part)
        return part

    for _ in range(20):
        with pytest.raises(RuntimeError, match="before its kernel"):
            run_split(task, 3, post_from_task=True)
    assert sorted(ran) == sorted([1, 2] * 20), \
        "every helper part ran once per split, though part 0 never posted"
    assert run_split(lambda part, words: _post_then_return(words, part), 3,
                     post_from_task=True) == [0, 1, 2]
