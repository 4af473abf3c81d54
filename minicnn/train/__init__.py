"""Training: the loop, run directories, checkpoints and the Trainer that ties them together."""

from minicnn.train.checkpoint import load_checkpoint, load_weights, save_checkpoint, save_weights
from minicnn.train.config import TrainConfig
from minicnn.train.loop import evaluate, train_epoch

__all__ = [
    "TrainConfig",
    "evaluate",
    "load_checkpoint",
    "load_weights",
    "save_checkpoint",
    "save_weights",
    "train_epoch",
]
