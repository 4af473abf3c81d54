"""Handing parts of a convolution to helper threads: spin briefly, then sleep.

:func:`run_split` runs ``task(0)`` on the calling thread and ``task(1)``, ... on helper
threads, each of which makes one GIL-free Numba call (see :mod:`minicnn.kernels.conv`). What
it costs is the hand-off, twice per call: waking a helper that sleeps on a lock, and waking
the caller when the helper finishes. On this project's 2-core virtual machines each wake-up
costs 15-25 us (the sleeping core must be woken by the hypervisor), four convolution calls a
LeNet-5 step: about 0.2 ms of a 2.9 ms step.

So the threads *spin* before they sleep, as OpenMP runtimes do (libgomp's default is
300,000 spins):

* a helper that has finished its part watches a shared word for the next one for up to
  :data:`HELPER_SPIN_SECONDS`; the caller posts a part by flipping that word (an atomic
  compare-and-swap), and only if the helper has gone to sleep does it release the helper's
  lock;
* the caller, once its own part is done, watches the helper's "done" counter for up to
  :data:`CALLER_SPIN_SECONDS` (the helper is then at most a chunk behind) before it blocks on
  the helper's lock.

Both loops run inside Numba without the GIL, with the CPU's ``pause`` between looks, and
only while the machine has a core to spare: spinning on a machine whose cores are all busy
steals the time slice of the thread that has the work (two LeNet-5 trainings side by side
on 2 cores: 4.5 ms per step without spinning, 5.1 with 150 us spins, 10.8 with 1 ms spins).
:func:`spinning_allowed` counts the threads ready to run, four times a second, and stops the
spinning while they outnumber the cores. The caller also starts the helpers from inside its own
part kernel (:func:`post_all`), once it has let go of the GIL. Measured on an idle 2-core
machine, a LeNet-5 step at batch 64 went from 2.87-3.0 ms to 2.62-2.69 ms; two trainings
side by side run as without spinning (4.5 ms).
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from minicnn.kernels._atomic import atomic_add, atomic_load, compare_and_swap, cpu_pause
from minicnn.kernels._jit import helper, kernel

__all__ = [
    "CALLER_SPIN_SECONDS",
    "HELPER_SPIN_SECONDS",
    "post_all",
    "run_split",
    "spinning_allowed",
]

HELPER_SPIN_SECONDS = 800e-6
"""How long a helper watches for its next part before it sleeps: long enough to span every
gap between a LeNet-5 step's convolution calls (50-100 us; the classifier and the loss, about
0.5 ms; the optimiser step and the next batch, about 0.2 ms). Measured at batch 64: 2.62-2.69
ms per step with 800 us, 2.76-2.87 with 150 us, 2.87-3.0 without spinning."""

CALLER_SPIN_SECONDS = 50e-6
"""How long the caller, done with its own part, watches for the helpers to finish theirs
(they take chunks from the same counter, so they finish within a chunk of each other)."""

SPINNING, POSTED, SLEEPING = 0, 1, 2  # a helper's task word: watching, part posted, asleep


# ---------------------------------------------------------------------------- Numba side

@kernel
def finish_and_watch(words, spins):
    """A helper's end of a part: count it done (``words[1] += 1``), then watch the task word
    ``words[0]`` for up to ``spins`` looks. Returns whether a part was posted; if not, the
    word is set to ``SLEEPING`` (atomically, so a part posted at that very moment is not
    missed) and the helper goes to sleep on its lock."""
    atomic_add(words, 1, 1)
    for _ in range(spins):
        if atomic_load(words, 0) == POSTED:
            return True
        cpu_pause()
    return compare_and_swap(words, 0, SPINNING, SLEEPING) == POSTED


@kernel
def post(words):
    """Post a part to a watching helper; ``False`` if it is asleep (then wake it)."""
    return compare_and_swap(words, 0, SPINNING, POSTED) == SPINNING


@helper
def post_all(helper_words):
    """Post a part to every helper of ``helper_words`` (rows ``1:``; row 0 is set to
    ``[1, 0]`` to record that the posts were made). The caller's part kernel calls this as
    its first step, after the GIL is released, so a helper that sees the post finds the GIL
    free (posted from Python, the helper would wake into a GIL the caller still holds and
    wait for it the slow way). A helper that went to sleep meanwhile is left alone: its row
    still reads ``SLEEPING`` afterwards, and :func:`run_split` wakes it."""
    if helper_words.shape[0] == 0:
        return
    helper_words[0, 0] = 1
    for row in range(1, helper_words.shape[0]):
        compare_and_swap(helper_words[row], 0, SPINNING, POSTED)


@kernel
def watch_done(words, count, spins):
    """Watch for the helper's done counter ``words[1]`` to reach ``count``, up to ``spins``
    looks; whether it did."""
    for _ in range(spins):
        if atomic_load(words, 1) >= count:
            return True
        cpu_pause()
    return False


@kernel
def spin(words, spins):
    """``spins`` looks at ``words[0]``: used once to time a look."""
    seen = 0
    for _ in range(spins):
        seen += atomic_load(words, 0)
        cpu_pause()
    return seen


# ---------------------------------------------------------------------------- Python side
_seconds_per_look = None  # measured once: how long one look of the spin loops takes
_load_checked_at = -1.0
_spinning = False


def _looks(seconds: float) -> int:
    global _seconds_per_look
    if _seconds_per_look is None:
        words = np.zeros(2, dtype=np.int64)
        spin(words, 10)  # compiled (or loaded from the cache) before timing
        start = time.perf_counter()
        spin(words, 20_000)
        _seconds_per_look = max((time.perf_counter() - start) / 20_000, 1e-9)
    return int(seconds / _seconds_per_look)


def spinning_allowed() -> bool:
    """Whether the machine has a core to spare for spinning: on average over the last four
    looks, at most half a thread more ready to run than there are usable cores (this
    process's own two count; a lone blip of one more thread, as a daemon waking up, is
    tolerated, a second busy program is not). The looks are taken at most every 0.25 s from
    ``/proc/loadavg``'s count of runnable threads (Linux); elsewhere from the 1-minute load
    average, which reacts in tens of seconds rather than one."""
    global _load_checked_at, _spinning
    now = time.monotonic()
    if now - _load_checked_at >= 0.25:
        _load_checked_at = now
        _recent_runnable.append(_runnable_threads())
        del _recent_runnable[:-4]
        average = sum(_recent_runnable) / len(_recent_runnable)
        _spinning = average <= _usable_cores() + 0.5
    return _spinning


_recent_runnable: list[float] = []


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _runnable_threads() -> float:
    """Threads ready to run right now (``/proc/loadavg``'s fourth field, ``running/total``),
    or the 1-minute load average where that file does not exist; infinity if neither is
    known (then nothing spins)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            return float(loadavg.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        pass
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("inf")


class _Helper:
    """A helper thread of :func:`run_split`: it runs one part at a time, watches for the next
    one for a while (:func:`finish_and_watch`), then sleeps on a lock.

    ``words[0]`` is the task word (``SPINNING``, ``POSTED``, ``SLEEPING``), ``words[1]`` the
    number of parts done. The locks are the slow path and keep the fast one honest: the
    helper releases ``_finished`` after every part, so the caller can always block on it.
    """

    def __init__(self, index: int, words: np.ndarray):
        self.words = words  # its row of _WORDS (never moves: the helper watches it)
        self.words[:] = (SLEEPING, 0)
        self.posted = 0  # parts posted so far (the caller's count; words[1] is the helper's)
        self._go = threading.Lock()
        self._go.acquire()
        self._finished = threading.Lock()
        self._finished.acquire()
        self._task = None
        self._part = 0
        self._spins = 0
        self._outcome = (False, None)
        threading.Thread(target=self._serve, name=f"minicnn-split-{index}", daemon=True).start()

    def start(self, task, part: int, spins: int, defer: bool = False) -> None:
        """Hand over ``task(part)``: post it to a watching helper (with ``defer``, the
        caller's part kernel does, see :func:`post_all`), or wake an asleep one."""
        self._task, self._part, self._spins = task, part, spins
        self.posted += 1
        if defer:
            return
        if not post(self.words):
            self.wake()

    def wake(self) -> None:
        """Post the part to a helper that is asleep on its lock (or about to be: its word
        reads ``SLEEPING``, which only the caller changes back)."""
        self.words[0] = POSTED
        self._go.release()

    def wait(self, spins: int) -> tuple[bool, object]:
        """``(failed, result or exception)`` of the part, once it has finished."""
        watch_done(self.words, self.posted, spins)
        self._finished.acquire()
        outcome, self._outcome, self._task = self._outcome, (False, None), None
        return outcome

    def _serve(self) -> None:
        self._go.acquire()
        while True:
            try:
                self._outcome = (False, self._task(self._part))
            except BaseException as error:  # handed to the caller, raised there
                self._outcome = (True, error)
            self.words[0] = SPINNING
            self._finished.release()
            if not finish_and_watch(self.words, self._spins):
                self._go.acquire()


MAX_HELPERS = 255
_WORDS = np.zeros((MAX_HELPERS + 1, 2), dtype=np.int64)
"""Row 0: :func:`post_all`'s record; row ``i``: helper ``i``'s task word and parts done (a
helper watches its row, so the array never moves)."""
_NO_WORDS = _WORDS[:0]
_split_lock = threading.Lock()
_helpers: list[_Helper] = []


def run_split(task, parts: int, post_from_task: bool = False) -> list:
    """``[task(0), task(1), ..., task(parts - 1)]``, run on ``parts`` threads at once.

    Part 0 runs on the calling thread, the others on helper threads; each ``task(part)``
    must handle its own slice of the work and write nowhere another part writes, and must not
    call :func:`run_split` itself. An error in any part is raised here once every part has
    finished.

    With ``post_from_task``, each task is called as ``task(part, helper_words)``, and part 0
    must pass ``helper_words`` (an int64 array; empty for the other parts) to
    :func:`post_all` as the first step of its GIL-free work: the helpers, all watching, are
    told to start only once the caller has let go of the GIL. (If some helper is asleep, all
    are started from here and ``helper_words`` is empty.)
    """
    if parts <= 1:
        return [task(0, _NO_WORDS) if post_from_task else task(0)]
    if parts - 1 > MAX_HELPERS:
        raise ValueError(f"run_split: at most {MAX_HELPERS + 1} parts, got {parts}")
    spinning = spinning_allowed()
    helper_spins = _looks(HELPER_SPIN_SECONDS) if spinning else 0
    caller_spins = _looks(CALLER_SPIN_SECONDS) if spinning else 0
    with _split_lock:  # one split at a time: the helpers serve one caller
        while len(_helpers) < parts - 1:
            _helpers.append(_Helper(len(_helpers) + 1, _WORDS[len(_helpers) + 1]))
        helpers = _helpers[: parts - 1]
        defer = post_from_task and all(worker.words[0] == SPINNING for worker in helpers)
        helper_task = (lambda part: task(part, _NO_WORDS)) if post_from_task else task
        for part, worker in enumerate(helpers, start=1):
            worker.start(helper_task, part, helper_spins, defer)
        words = _WORDS[:parts] if defer else _NO_WORDS
        if defer:
            words[0] = 0  # post_all's record: no post made yet
        try:
            first = task(0, words) if post_from_task else task(0)
        finally:
            if defer:
                _post_missed(helpers, posts_made=bool(words[0, 0]))
            outcomes = [worker.wait(caller_spins) for worker in helpers]
    for failed, value in outcomes:
        if failed:
            raise value
    return [first, *(value for _, value in outcomes)]


def _post_missed(helpers: list[_Helper], posts_made: bool) -> None:
    """After a deferred post: start the helpers it did not reach. If part 0 never got to
    :func:`post_all` (it failed first), none was reached; else only those that had gone to
    sleep before the post and have not finished a part since (a helper counts a part done
    before it watches, so one that finished and then fell asleep is not started twice)."""
    for worker in helpers:
        if not posts_made:
            if not post(worker.words):
                worker.wake()
        elif worker.words[0] == SLEEPING and worker.words[1] < worker.posted:
            worker.wake()


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: forget the parent's helpers (their
    threads do not exist here; new ones start on demand) and a lock held at the fork."""
    global _split_lock
    _helpers.clear()
    _split_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
