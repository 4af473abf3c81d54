"""How much to measure: the full suite's sizes and repeats, and the smoke mode's tiny ones.

One :class:`Settings` object travels from the command line to every worker process (as JSON),
so a smoke run and a full run execute the same code on different sizes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    """Sizes and repeat counts of one benchmark run.

    Attributes:
        mode: ``"full"`` or ``"smoke"`` (recorded in the JSON).
        threads: the thread counts to measure, each for Numba, BLAS and torch alike.
        layer_batch: batch size of the per-layer benchmarks.
        min_repeats, max_repeats, target_seconds: a timing takes at least ``min_repeats``
            samples, then more until ``target_seconds`` have passed or ``max_repeats`` are in.
        warmup: untimed calls before each timing (JIT, caches, allocator).
        step_batches: batch sizes of the LeNet-5 training-step benchmark.
        epoch_images: images in the "full epoch" (``None``: the whole MNIST training set).
        epoch_min_repeats, epoch_max_repeats, epoch_target_seconds: the same policy for
            whole epochs (few: each takes seconds).
        reference_epoch_images: images timed for the NumPy reference (the slowest), to keep
            the suite short; its epoch time is extrapolated from its throughput (and says so).
        import_runs: subprocesses timing ``import minicnn`` / ``import torch``.
        import_warmup: untimed import runs first (they write Python's bytecode cache).
        first_step_runs: subprocesses timing the first training step (cold and warm cache each).
        memory_images: images trained on in the peak-memory subprocess (``None``: the epoch).
        reference_memory_images: the same for the NumPy reference.
        quiet_wait_seconds: the most a run waits, in total, for moments when other processes
            leave the CPUs alone before a measurement (see ``machine.QuietWaiter``).
    """

    mode: str = "full"
    threads: tuple[int, ...] = (1, 2)
    layer_batch: int = 64
    min_repeats: int = 7
    max_repeats: int = 200
    target_seconds: float = 0.3
    warmup: int = 3
    step_batches: tuple[int, ...] = (64, 256)
    step_target_seconds: float = 1.0
    epoch_batch: int = 64
    epoch_images: int | None = None
    epoch_min_repeats: int = 2
    epoch_max_repeats: int = 3
    epoch_target_seconds: float = 20.0
    reference_epoch_images: int | None = 9600
    import_runs: int = 7
    import_warmup: int = 1
    first_step_runs: int = 3
    memory_images: int | None = None
    reference_memory_images: int | None = 9600
    quiet_wait_seconds: float = 180.0
    groups: tuple[str, ...] = field(default=("layers", "step", "epoch", "startup", "memory"))

    @classmethod
    def full(cls, **changes) -> Settings:
        """The suite of issue 4: 3-4 minutes on a quiet 2-core machine, up to 10 on a busy one."""
        return cls(**changes)

    @classmethod
    def smoke(cls, **changes) -> Settings:
        """Every benchmark once on tiny sizes, to prove the suite runs (no figure to quote)."""
        tiny = {
            "mode": "smoke",
            "layer_batch": 8,
            "min_repeats": 1,
            "max_repeats": 2,
            "target_seconds": 0.0,
            "warmup": 1,
            "step_target_seconds": 0.0,
            "epoch_images": 128,
            "epoch_min_repeats": 1,
            "epoch_max_repeats": 1,
            "epoch_target_seconds": 0.0,
            "reference_epoch_images": 64,
            "import_runs": 1,
            "import_warmup": 0,
            "first_step_runs": 1,
            "memory_images": 128,
            "reference_memory_images": 64,
            "quiet_wait_seconds": 0.0,
        }
        tiny.update(changes)
        return cls(**tiny)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        values = json.loads(text)
        for name in ("threads", "step_batches", "groups"):
            values[name] = tuple(values[name])
        return cls(**values)
