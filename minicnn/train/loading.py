"""Build a trained network from what a run left: a run directory, weights or a checkpoint.

What the network is comes from the weights file's metadata (written by the Trainer), else the
run's ``config.json`` beside it, else the defaults of an MNIST LeNet-5 run: the model's name,
its width, the dataset (which sets the classes and the image channels) and, for datasets
whose normalisation was measured, the mean and std the images were normalised by.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from minicnn.models import MODEL_NAMES, build_model
from minicnn.nn.module import Module
from minicnn.train.checkpoint import load_weights, read_metadata
from minicnn.train.config import TrainConfig
from minicnn.train.datasets import dataset_spec
from minicnn.train.run_dir import RunDir

__all__ = ["load_trained_model", "trained_dataset", "trained_statistics", "weights_path"]


def weights_path(path: str | os.PathLike) -> Path:
    """The weights a path stands for: a run directory's best (else last, else checkpoint),
    or the file itself."""
    path = Path(path)
    if path.is_dir():
        run_dir = RunDir(path)
        for candidate in (run_dir.best_weights, run_dir.last_weights, run_dir.checkpoint):
            if candidate.exists():
                return candidate
        raise FileNotFoundError(f"{path}: no best.safetensors, last.safetensors or "
                                "checkpoint.safetensors in this run directory")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint file or run directory")
    return path


def _recorded(weights: Path, key: str):
    """``minicnn.<key>`` of the file's metadata, else the field of ``config.json`` beside it,
    else None."""
    value = read_metadata(weights).get(f"minicnn.{key}")
    if value is None and (weights.parent / "config.json").exists():
        value = getattr(TrainConfig.load(weights.parent / "config.json"), key)
    return value


def _model_name(weights: Path, given: str | None) -> str:
    name = given if given is not None else _recorded(weights, "model")
    if name is None:
        raise ValueError(f"{weights}: the file does not say which network it holds; pass "
                         f"--model (one of {', '.join(MODEL_NAMES)})")
    return name


def trained_dataset(path: str | os.PathLike) -> str:
    """The ``--dataset`` name the weights at ``path`` were trained on (default ``"mnist"``)."""
    return _recorded(weights_path(path), "dataset") or "mnist"


def trained_statistics(path: str | os.PathLike):
    """The ``(mean, std)`` the weights' images were normalised by, if the file records them
    (a dataset whose statistics were measured), else None."""
    metadata = read_metadata(weights_path(path))
    if "minicnn.mean" not in metadata or "minicnn.std" not in metadata:
        return None
    return (tuple(json.loads(metadata["minicnn.mean"])),
            tuple(json.loads(metadata["minicnn.std"])))


def load_trained_model(path: str | os.PathLike, model: str | None = None,
                       dataset: str | None = None) -> tuple[Module, Path]:
    """The network stored at ``path``, in eval mode, and the weights file it came from.

    ``path`` may be a run directory (its best weights are used), a weights file or a
    resumable checkpoint. The architecture comes from ``model``, else the file's metadata,
    else the run's ``config.json``; so does the width multiplier (else 1) and the dataset
    (``dataset``, else recorded, else MNIST), whose classes and channels shape the network.
    """
    weights = weights_path(path)
    name = _model_name(weights, model)
    width = _recorded(weights, "width")
    dataset_class = dataset_spec(dataset or trained_dataset(weights)).dataset_class
    network = build_model(name, num_classes=len(dataset_class.classes),
                          width=1.0 if width is None else float(width),
                          in_channels=dataset_class.channels)
    state = load_weights(weights)
    if not state:
        raise ValueError(f"{weights}: the file holds no weights")
    dtype = next(iter(state.values())).dtype
    try:
        network.to(dtype).load_state_dict(state)
    except RuntimeError as error:
        reason = " ".join(str(error).split())
        raise ValueError(f"{weights}: not weights of minicnn's {name} ({reason})") from None
    return network.eval(), weights
