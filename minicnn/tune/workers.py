"""Local worker processes: ``--workers N`` runs N workers of one study on this machine.

Each worker is a separate process (started with ``spawn``: a clean interpreter, no copy of
the parent's thread pools) that runs :func:`~minicnn.tune.study.run_worker` on the shared
storage. The cores are split between them: each worker's BLAS and Numba use ``threads``
threads, with ``workers x threads <= cores``, since more threads than cores make every
trial slower (see :mod:`minicnn.threads`). Each worker's sampler gets its own seed, or the
workers would all draw the same first parameters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time

from minicnn.tune.study import StudyOptions, run_worker

__all__ = ["WorkerError", "available_cores", "run_workers", "threads_per_worker", "worker_seed"]


class WorkerError(RuntimeError):
    """A worker process ended with an error (its traceback is on stderr)."""


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_worker(workers: int, threads: int | None = None,
                       cores: int | None = None) -> int:
    """Threads for each of ``workers`` workers: ``threads``, or an equal share of the cores.

    Raises ``ValueError`` if ``workers x threads`` would exceed the cores.
    """
    cores = available_cores() if cores is None else cores
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    if workers > cores:
        raise ValueError(f"{workers} workers on {cores} cores: each worker needs a core of its "
                         f"own; use at most {cores} here, and more machines for more")
    if threads is None:
        return cores // workers
    if workers * threads > cores:
        raise ValueError(f"{workers} workers x {threads} threads = {workers * threads} threads "
                         f"on {cores} cores; use at most {cores // workers} threads per worker")
    return threads


def worker_seed(seed: int | None, index: int) -> int | None:
    """The sampler seed of worker ``index``: distinct per worker and per process."""
    if seed is None:
        return None
    return (seed * 1_000_003 + index * 7_919 + os.getpid() * 31) % 2**32


def _worker_main(options: StudyOptions, threads: int) -> None:
    """The body of a worker process (module level, so that ``spawn`` can find it)."""
    from minicnn.threads import set_num_threads
    from minicnn.tune._optuna import import_optuna

    import_optuna().logging.set_verbosity(import_optuna().logging.WARNING)
    set_num_threads(threads)
    try:
        run_worker(options)
    except KeyboardInterrupt:
        # The trial it was running is marked failed; the parent prints how to resume.
        raise SystemExit(130) from None


def run_workers(options: StudyOptions, workers: int, threads: int, progress=None,
                study=None, poll_seconds: float = 1.0) -> None:
    """Run ``workers`` worker processes until the study is done; follow them on ``progress``.

    ``progress`` (a :class:`~minicnn.tune.progress.TrialProgress`) is updated from ``study``
    every ``poll_seconds``. Raises :class:`WorkerError` if a worker fails; on
    ``KeyboardInterrupt`` the workers are interrupted too, and the exception re-raised.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    processes = []
    for index in range(workers):
        worker_options = dataclasses.replace(options, seed=worker_seed(options.seed, index))
        process = context.Process(target=_worker_main, args=(worker_options, threads),
                                  name=f"minicnn-tune-worker-{index}")
        process.start()
        processes.append(process)
    try:
        while any(process.is_alive() for process in processes):
            if progress is not None:
                progress.update(study)
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        _stop(processes)
        raise
    if progress is not None:
        progress.update(study)
    failed = [(process.name, process.exitcode) for process in processes if process.exitcode]
    if failed:
        raise WorkerError("worker processes failed: " + ", ".join(
            f"{name} (exit status {code})" for name, code in failed))


def _stop(processes, timeout: float = 30.0) -> None:
    """Interrupt the workers (their running trials are marked failed), then wait for them."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            # Ctrl-C in a terminal reached them already; a SIGINT sent to the parent did not.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join()
