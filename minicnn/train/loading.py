"""Build a trained network from what a run left: a run directory, weights or a checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

from minicnn.models import MODEL_NAMES, build_model
from minicnn.nn.module import Module
from minicnn.train.checkpoint import load_weights, read_metadata
from minicnn.train.config import TrainConfig
from minicnn.train.run_dir import RunDir

__all__ = ["load_trained_model"]


def _weights_path(path: Path) -> Path:
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


def _model_name(weights: Path, given: str | None) -> str:
    if given is not None:
        return given
    name = read_metadata(weights).get("minicnn.model")
    if name is None and (weights.parent / "config.json").exists():
        name = TrainConfig.load(weights.parent / "config.json").model
    if name is None:
        raise ValueError(f"{weights}: the file does not say which network it holds; pass "
                         f"--model (one of {', '.join(MODEL_NAMES)})")
    return name


def _model_width(weights: Path) -> float:
    """The width multiplier the weights were trained at: metadata, else config.json, else 1."""
    width = read_metadata(weights).get("minicnn.width")
    if width is not None:
        return float(width)
    if (weights.parent / "config.json").exists():
        return TrainConfig.load(weights.parent / "config.json").width
    return 1.0


def load_trained_model(path: str | os.PathLike, model: str | None = None) -> tuple[Module, Path]:
    """The network stored at ``path``, in eval mode, and the weights file it came from.

    ``path`` may be a run directory (its best weights are used), a weights file or a
    resumable checkpoint. The architecture comes from ``model``, else the file's metadata,
    else the run's ``config.json``; so does the width multiplier (else 1).
    """
    weights = _weights_path(Path(path))
    name = _model_name(weights, model)
    network = build_model(name, width=_model_width(weights))
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
