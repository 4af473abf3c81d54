"""LeNet-5 training-step benchmark (forward, loss, backward, SGD step) at each batch size.

Each sample is one whole step on the same random batch, timed after warm-up steps; the
median over samples is quoted. See :mod:`benchmarks.training` for the step itself.
"""

from __future__ import annotations

from benchmarks.records import MINICNN_VARIANTS, measured, row_id, unavailable
from benchmarks.settings import Settings
from benchmarks.timing import measure
from benchmarks.training import MinicnnTrainer, TorchTrainer, random_batch
from benchmarks.variants import run_in_variant

__all__ = ["measure_minicnn", "measure_torch", "row_ids", "step_name", "tasks"]

GROUP = "step"
PHASE = "train step"


def step_name(batch: int) -> str:
    return f"LeNet-5 batch {batch}"


def row_ids(settings: Settings) -> list[str]:
    return [row_id(GROUP, step_name(batch), PHASE, threads)
            for threads in settings.threads for batch in settings.step_batches]


def _time_steps(trainer, batch: int, settings: Settings):
    images, labels = trainer.prepare(*random_batch(batch))
    return measure(lambda: trainer.step(images, labels), warmup=settings.warmup,
                   min_repeats=settings.min_repeats, max_repeats=settings.max_repeats,
                   target_seconds=settings.step_target_seconds)


def _description(batch: int) -> str:
    return f"zero_grad, forward, loss, backward, SGD step on ({batch}, 1, 28, 28) float32"


def tasks(settings: Settings) -> list[str]:
    """One unit of work per batch size."""
    return [str(batch) for batch in settings.step_batches]


def measure_minicnn(task: str, threads: int, settings: Settings) -> list[dict]:
    """The training step at batch ``int(task)`` in both minicnn variants."""
    batch = int(task)
    name = step_name(batch)
    records = []
    for variant in MINICNN_VARIANTS:
        timing, note = run_in_variant(
            variant, lambda: _time_steps(MinicnnTrainer(), batch, settings)
        )
        if note is not None:
            records.append(unavailable(GROUP, name, PHASE, threads, variant, note,
                                       _description(batch)))
            continue
        records.append(measured(GROUP, name, PHASE, threads, variant, value=timing.median,
                                unit="s", description=_description(batch), timing=timing))
    return records


def measure_torch(task: str, threads: int, settings: Settings) -> list[dict]:
    """The training step at batch ``int(task)`` in PyTorch."""
    batch = int(task)
    timing = _time_steps(TorchTrainer(), batch, settings)
    return [measured(GROUP, step_name(batch), PHASE, threads, "torch", value=timing.median,
                     unit="s", description=_description(batch), timing=timing)]
