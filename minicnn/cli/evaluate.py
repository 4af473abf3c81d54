"""``minicnn evaluate CHECKPOINT``: accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from minicnn.cli.arguments import positive_int
from minicnn.models import MODEL_NAMES
from minicnn.train.config import DATASETS
from minicnn.viz.confusion import confusion_matrix

__all__ = ["add_parser", "format_report", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="evaluate trained weights on the test set",
        description="Evaluate a run directory, weights file or checkpoint on the test set: "
                    "accuracy, per-class accuracy and the confusion matrix.")
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="a run directory, a .safetensors weights file or checkpoint")
    parser.add_argument("--model", choices=MODEL_NAMES, default=None,
                        help="the network (default: read from the checkpoint)")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="the dataset (default: the one the weights were trained on)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the dataset's files (default: the cache)")
    parser.add_argument("--batch-size", type=positive_int, default=1000)
    parser.add_argument("--limit-test", type=positive_int, default=None, metavar="N",
                        help="evaluate on the first N test images")
    return parser


def format_report(matrix: np.ndarray, class_names=None) -> str:
    """Per-class accuracy (each class named, if ``class_names`` are given), the confusion
    matrix and the accuracy, as ``minicnn evaluate`` prints them."""
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    lines = ["per-class accuracy:"]
    names = [""] * len(matrix) if class_names is None else [f" {name}" for name in class_names]
    lines += [f"  {label}{names[label]}: {accuracy:.4f}  ({matrix[label].sum()} images)"
              for label, accuracy in enumerate(per_class)]
    lines.append("confusion matrix (rows: true class, columns: predicted):")
    width = max(5, len(str(matrix.max())) + 1)
    lines.append("     " + "".join(f"{label:>{width}}" for label in range(len(matrix))))
    lines += [f"  {label:>2} " + "".join(f"{count:>{width}}" for count in row)
              for label, row in enumerate(matrix)]
    accuracy = matrix.diagonal().sum() / matrix.sum()
    lines.append(f"test accuracy: {100 * accuracy:.2f}%")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from minicnn.data import DataLoader
    from minicnn.nn.loss import CrossEntropyLoss
    from minicnn.train.datasets import dataset_spec, load_split
    from minicnn.train.loading import load_trained_model, trained_dataset, trained_statistics
    from minicnn.train.loop import evaluate

    try:
        dataset = args.dataset or trained_dataset(args.checkpoint)
        model, weights = load_trained_model(args.checkpoint, args.model, dataset)
    except (FileNotFoundError, ValueError) as error:  # CheckpointError is a ValueError
        print(f"minicnn evaluate: {error}", file=sys.stderr)
        return 1
    dtype = next(model.parameters()).dtype
    # The statistics the network was trained with, when the weights record them.
    test_set = load_split(dataset, args.data_dir, False, dtype, args.limit_test,
                          statistics=trained_statistics(weights))
    result = evaluate(model, DataLoader(test_set, batch_size=args.batch_size),
                      CrossEntropyLoss())
    classes = dataset_spec(dataset).dataset_class.classes
    print(f"weights: {weights}")
    print(f"test loss: {result.loss:.4f}")
    # MNIST's class names are its labels; the others' are words worth printing.
    names = None if dataset == "mnist" else classes
    print(format_report(confusion_matrix(result.targets, result.predictions, len(classes)),
                        names))
    return 0
