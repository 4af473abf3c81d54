"""Training curves: loss, accuracy and learning rate per epoch, from a run's metrics log."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from minicnn.viz._figure import new_figure

__all__ = ["plot_training_curves", "read_metrics"]


def read_metrics(source: str | os.PathLike) -> list[dict]:
    """The per-epoch records of a run directory (or of its ``metrics.jsonl`` file itself)."""
    path = Path(source)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics log (a run writes metrics.jsonl after its "
                                "first epoch)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_training_curves(metrics: Sequence[dict] | str | os.PathLike):
    """Three panels, ``12 x 4`` inches: loss, accuracy (train and test) and learning rate.

    Args:
        metrics: the records of ``metrics.jsonl`` (dicts with ``epoch``, ``train_loss``,
            ``test_loss``, ``train_accuracy``, ``test_accuracy``, ``lr``), or a run directory.

    The training figures are means over each epoch while the weights changed; the test
    figures are measured at the epoch's end. So early on the training loss sits *above* the
    test loss; a test loss that rises while the training loss falls is overfitting.
    """
    records = read_metrics(metrics) if isinstance(metrics, str | os.PathLike) else list(metrics)
    if not records:
        raise ValueError("plot_training_curves: no epochs to plot (the metrics are empty)")
    epochs = [record["epoch"] for record in records]
    figure = new_figure(12, 4)
    loss_axes, accuracy_axes, lr_axes = figure.subplots(1, 3)
    # Markers as well as lines: a one-epoch run is a single point, which a line would hide.
    style = {"marker": "o", "markersize": 4}
    loss_axes.plot(epochs, [r["train_loss"] for r in records], label="train", **style)
    loss_axes.plot(epochs, [r["test_loss"] for r in records], label="test", **style)
    loss_axes.set(title="cross-entropy loss", xlabel="epoch", ylabel="loss")
    accuracy_axes.plot(epochs, [100 * r["train_accuracy"] for r in records], label="train",
                       **style)
    accuracy_axes.plot(epochs, [100 * r["test_accuracy"] for r in records], label="test",
                       **style)
    best = max(records, key=lambda r: r["test_accuracy"])
    accuracy_axes.annotate(f"best {100 * best['test_accuracy']:.2f}%",
                           (best["epoch"], 100 * best["test_accuracy"]),
                           textcoords="offset points", xytext=(0, -14), ha="center",
                           fontsize=8)
    accuracy_axes.set(title="accuracy", xlabel="epoch", ylabel="%")
    lr_axes.plot(epochs, [r["lr"] for r in records], color="tab:green", **style)
    lr_axes.set(title="learning rate (at the epoch's start)", xlabel="epoch", ylabel="lr")
    for axes in (loss_axes, accuracy_axes, lr_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    loss_axes.legend()
    accuracy_axes.legend()
    return figure
