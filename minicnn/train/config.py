"""The settings of a training run, with the defaults that reach 99% on MNIST."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AUGMENTED_DATASETS", "DATASETS", "DTYPES", "OPTIMIZERS", "SCHEDULERS", "TrainConfig"]

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "onecycle", "plateau")
DTYPES = ("float32", "float64")
DATASETS = ("mnist", "fashion-mnist", "cifar10", "cifar100")
AUGMENTED_DATASETS = ("cifar10", "cifar100")
"""The datasets augmented unless a run says ``augment=False`` (``--no-augment``)."""


@dataclass
class TrainConfig:
    """Everything that decides a run; saved as ``config.json`` in the run directory.

    The defaults (LeNet-5, SGD with Nesterov momentum, cosine-annealed learning rate, 10
    epochs at batch 64) are the ones the README's measured accuracy comes from. ``augment``
    left at None becomes the dataset's default (on for :data:`AUGMENTED_DATASETS`; the recipes
    are in :mod:`minicnn.train.datasets`).
    """

    model: str = "lenet5"
    width: float = 1.0  # multiplier of the model's hidden sizes (1: the paper's LeNet-5)
    dataset: str = "mnist"
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"
    seed: int = 0
    data_dir: str | None = None
    out_dir: str = "runs"
    threads: int | None = None
    limit_train: int | None = None
    limit_test: int | None = None
    dtype: str = "float32"
    skip_nonfinite: bool = False
    checkpoint_every: int | None = None
    augment: bool | None = None  # None: the dataset's default

    def __post_init__(self):
        checks = [
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("scheduler", self.scheduler, SCHEDULERS),
            ("dtype", self.dtype, DTYPES),
            ("dataset", self.dataset, DATASETS),
        ]
        for name, value, choices in checks:
            if value not in choices:
                raise ValueError(f"TrainConfig: {name} must be one of {choices}, got {value!r}")
        if self.augment is None:
            # A config.json written before augmentation existed has no "augment": the
            # datasets it knew are not augmented by default, so it resumes as it ran.
            self.augment = self.dataset in AUGMENTED_DATASETS
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig: {name} must be positive, got {getattr(self, name)}")
        for name in ("limit_train", "limit_test", "threads", "checkpoint_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"TrainConfig: {name} must be positive, got {value}")
        for name in ("lr", "width"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TrainConfig: {name} must be positive, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"TrainConfig: unknown settings {sorted(unknown)}")
        return cls(**values)

    def save(self, path: str | Path) -> None:
        # Atomic: resuming with --epochs rewrites the file, and a crash must not leave half.
        from minicnn.train.checkpoint import atomic_write_bytes

        atomic_write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            values = json.loads(Path(path).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable run config ({error}); restore it from "
                             "another run's config.json or start a new run") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: not a run config (expected a JSON object)")
        return cls.from_dict(values)
