"""The timer every benchmark uses: warm-up calls, then the median of many timed calls.

Each sample times one call with ``time.perf_counter`` (its resolution, well under a
microsecond, is fine for the smallest layer here, tens of microseconds). An optional
``setup`` runs untimed before each sample: a backward pass needs a fresh forward first.
Garbage collection is paused while sampling, as ``timeit`` does, so a collection triggered by
an earlier benchmark's garbage does not land in this one's samples.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

__all__ = ["Timing", "measure"]


@dataclass(frozen=True)
class Timing:
    """Summary of the samples of one timing, in seconds."""

    median: float
    minimum: float
    maximum: float
    repeats: int

    def as_dict(self) -> dict:
        return asdict(self)


def measure(
    run: Callable[[], object],
    *,
    setup: Callable[[], object] | None = None,
    warmup: int = 3,
    min_repeats: int = 7,
    max_repeats: int = 200,
    target_seconds: float = 0.3,
    pause_gc: bool = True,
) -> Timing:
    """Time ``run()``: ``warmup`` untimed calls, then samples until enough are in.

    Sampling stops once at least ``min_repeats`` samples are taken and either
    ``target_seconds`` of timed work have passed or ``max_repeats`` samples are in, so fast
    calls get many samples (a stable median) and slow ones few (a bounded run time).

    Args:
        run: the work to time.
        setup: untimed work before each call, warm-up included (e.g. the forward pass that a
            timed backward pass needs).
        warmup, min_repeats, max_repeats, target_seconds: as above.
        pause_gc: pause garbage collection while sampling; a whole epoch keeps it running,
            as a training run does.

    Returns:
        The median, minimum and maximum of the per-call times, and the sample count.
    """
    if min_repeats < 1 or max_repeats < min_repeats:
        raise ValueError(
            f"measure: expected 1 <= min_repeats <= max_repeats, got min_repeats={min_repeats}, "
            f"max_repeats={max_repeats}"
        )
    for _ in range(warmup):
        if setup is not None:
            setup()
        run()
    samples: list[float] = []
    gc.collect()
    gc_was_enabled = gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        spent = 0.0
        while len(samples) < max_repeats and (
            len(samples) < min_repeats or spent < target_seconds
        ):
            if setup is not None:
                setup()
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            samples.append(elapsed)
            spent += elapsed
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(statistics.median(samples), min(samples), max(samples), len(samples))
