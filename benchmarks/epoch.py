"""One MNIST training epoch at batch 64, as a user runs it, in images per second.

minicnn trains through its own ``DataLoader`` and ``train_epoch`` (shuffling, uint8 -> float
conversion and normalisation per batch included); PyTorch through the equivalent loop over a
uint8 tensor held in memory (the same per-batch conversion, no worker processes). The
NumPy reference, the slowest of the three, is timed on the first ``reference_epoch_images``
images to keep the suite short, and its epoch time extrapolated from that throughput (the
record says so).
"""

from __future__ import annotations

from benchmarks.data import MNIST_MISSING, find_mnist, minicnn_mnist, torch_mnist
from benchmarks.records import MINICNN_VARIANTS, measured, row_id, unavailable
from benchmarks.settings import Settings
from benchmarks.timing import measure
from benchmarks.training import MinicnnTrainer, TorchTrainer
from benchmarks.variants import run_in_variant

__all__ = [
    "epoch_name",
    "epoch_name_for_batch",
    "measure_minicnn",
    "measure_torch",
    "row_ids",
    "tasks",
    "torch_train_epoch",
]

GROUP = "epoch"
PHASE = "train epoch"
MNIST_TRAIN_IMAGES = 60_000
WARMUP_STEPS = 3


def epoch_name_for_batch(batch: int) -> str:
    return f"MNIST batch {batch}"


def epoch_name(settings: Settings) -> str:
    return epoch_name_for_batch(settings.epoch_batch)


def row_ids(settings: Settings) -> list[str]:
    return [row_id(GROUP, epoch_name(settings), PHASE, threads) for threads in settings.threads]


def _epoch_images(settings: Settings) -> int:
    return MNIST_TRAIN_IMAGES if settings.epoch_images is None else settings.epoch_images


def _description(settings: Settings) -> str:
    return f"{_epoch_images(settings)} MNIST images, batch {settings.epoch_batch}, shuffled"


def _record(settings: Settings, threads: int, variant: str, timing, images_timed: int) -> dict:
    images_per_second = images_timed / timing.median
    epoch_images = _epoch_images(settings)
    return measured(
        GROUP, epoch_name(settings), PHASE, threads, variant,
        value=epoch_images / images_per_second, unit="s", description=_description(settings),
        timing=timing, images_per_second=images_per_second, images_timed=images_timed,
        extrapolated=images_timed != epoch_images,
    )


def _time_epochs(train_one_epoch, settings: Settings):
    """At least ``epoch_min_repeats`` epochs, more up to ``epoch_max_repeats`` while the
    time spent is under ``epoch_target_seconds`` (a loaded machine gets fewer, slower ones)."""
    return measure(train_one_epoch, warmup=0, min_repeats=settings.epoch_min_repeats,
                   max_repeats=settings.epoch_max_repeats,
                   target_seconds=settings.epoch_target_seconds, pause_gc=False)


def _time_minicnn_epoch(settings: Settings, limit: int | None):
    from minicnn.data.dataloader import DataLoader
    from minicnn.train.loop import train_epoch

    dataset = minicnn_mnist(limit)
    loader = DataLoader(dataset, batch_size=settings.epoch_batch, shuffle=True, generator=0)
    trainer = MinicnnTrainer()
    warm_images, warm_labels = dataset.get_batch(range(settings.epoch_batch))
    for _ in range(WARMUP_STEPS):
        trainer.step(warm_images, warm_labels)
    timing = _time_epochs(
        lambda: train_epoch(trainer.model, loader, trainer.loss_fn, trainer.optimizer), settings
    )
    return timing, len(dataset)


def tasks(settings: Settings) -> list[str]:
    """A single unit of work: the epoch."""
    return ["epoch"]


def measure_minicnn(task: str, threads: int, settings: Settings) -> list[dict]:
    """One epoch in each minicnn variant (``task`` is ``"epoch"``)."""
    records = []
    for variant in MINICNN_VARIANTS:
        if find_mnist() is None:
            records.append(unavailable(GROUP, epoch_name(settings), PHASE, threads, variant,
                                       MNIST_MISSING, _description(settings)))
            continue
        limit = settings.epoch_images
        if variant == "reference" and settings.reference_epoch_images is not None:
            limit = min(settings.reference_epoch_images, _epoch_images(settings))
        outcome, note = run_in_variant(
            variant, lambda: _time_minicnn_epoch(settings, limit)  # noqa: B023
        )
        if note is not None:
            records.append(unavailable(GROUP, epoch_name(settings), PHASE, threads, variant,
                                       note, _description(settings)))
            continue
        timing, images = outcome
        records.append(_record(settings, threads, variant, timing, images))
    return records


def torch_train_epoch(trainer: TorchTrainer, images, labels, batch: int, generator) -> int:
    """One shuffled pass over uint8 ``images (N, 28, 28)``; returns the number of images."""
    import torch

    from minicnn.data.transforms import MNIST_MEAN, MNIST_STD

    order = torch.randperm(len(labels), generator=generator)
    for start in range(0, len(labels), batch):
        indices = order[start:start + batch]
        batch_images = images[indices].unsqueeze(1).float().div_(255)
        batch_images = batch_images.sub_(MNIST_MEAN).div_(MNIST_STD)
        trainer.step(batch_images, labels[indices])
    return len(labels)


def measure_torch(task: str, threads: int, settings: Settings) -> list[dict]:
    """One epoch in PyTorch (``task`` is ``"epoch"``)."""
    import torch

    if find_mnist() is None:
        return [unavailable(GROUP, epoch_name(settings), PHASE, threads, "torch",
                            MNIST_MISSING, _description(settings))]
    images, labels = torch_mnist(settings.epoch_images)
    trainer = TorchTrainer()
    generator = torch.Generator().manual_seed(0)
    warm_images = images[: settings.epoch_batch].unsqueeze(1).float()
    for _ in range(WARMUP_STEPS):
        trainer.step(warm_images, labels[: settings.epoch_batch])
    timing = _time_epochs(
        lambda: torch_train_epoch(trainer, images, labels, settings.epoch_batch, generator),
        settings,
    )
    return [_record(settings, threads, "torch", timing, len(labels))]
