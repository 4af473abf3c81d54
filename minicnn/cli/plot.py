"""``minicnn plot RUN_DIR``: draw a finished (or running) training run as PNG figures.

Example::

    minicnn plot runs/lenet5-mnist-20261123-101500
    minicnn plot runs/lenet5-mnist-20261123-101500 --out-dir figs

writes, into the run directory (or ``--out-dir``):

======================  =====================================================================
``curves.png``          loss, accuracy and learning rate per epoch (``metrics.jsonl``)
``filters.png``         the first convolution's kernels (in colour for RGB input)
``feature_maps.png``    every convolution's output for one test image (``--image``)
``confusion.png``       the confusion matrix on the test set
``mistakes.png``        the most confidently wrong test images
``gradient_flow.png``   mean / max ``|grad|`` reaching each layer, over one training batch
======================  =====================================================================

The weights are the run's best (``best.safetensors``); the data are the run's own dataset
and ``--limit-test`` (from its ``config.json``) unless given here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from minicnn.cli.arguments import non_negative_int, positive_int

__all__ = ["FIGURES", "add_parser", "run"]

FIGURES = ("curves", "filters", "feature_maps", "confusion", "mistakes", "gradient_flow")
"""The PNG files ``minicnn plot`` writes, without their ``.png``."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot", help="draw a run's curves, filters, feature maps, mistakes and gradients",
        description="Write PNG figures of a training run: training curves, first-layer "
                    "filters, feature maps, confusion matrix, most confident mistakes and "
                    "gradient flow.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of minicnn train")
    parser.add_argument("--out-dir", default=None,
                        help="where the PNGs go (default: RUN_DIR itself)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the dataset's files (default: the run's own "
                             "setting)")
    parser.add_argument("--limit-test", type=positive_int, default=None, metavar="N",
                        help="use the first N test images (default: the run's own setting)")
    parser.add_argument("--image", type=non_negative_int, default=0, metavar="INDEX",
                        help="the test image whose feature maps are drawn (default: 0)")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="training images in the gradient-flow pass (default: 64)")
    return parser


def run(args: argparse.Namespace) -> int:
    from minicnn.data import DownloadError
    from minicnn.data.dataset import fetch_batch
    from minicnn.nn.loss import CrossEntropyLoss
    from minicnn.train.config import TrainConfig
    from minicnn.train.datasets import load_split
    from minicnn.train.loading import load_trained_model, trained_statistics
    from minicnn.train.run_dir import RunDir
    from minicnn.viz import (
        confusion_matrix,
        plot_confusion_matrix,
        plot_feature_maps,
        plot_filters,
        plot_gradient_flow,
        plot_mistakes,
        plot_training_curves,
        predict_probabilities,
        read_metrics,
        record_gradient_flow,
        save_figure,
    )

    run_dir = RunDir(args.run_dir)
    if not run_dir.config.is_file():
        print(f"minicnn plot: {args.run_dir} is not a run directory (no config.json)",
              file=sys.stderr)
        return 1
    try:
        metrics = read_metrics(run_dir.path)
        config = TrainConfig.load(run_dir.config)
        model, weights = load_trained_model(run_dir.path)
    except (FileNotFoundError, ValueError) as error:  # CheckpointError is a ValueError
        print(f"minicnn plot: {error}", file=sys.stderr)
        return 1
    if not metrics:
        print(f"minicnn plot: {run_dir.metrics} holds no epoch yet", file=sys.stderr)
        return 1
    dtype = next(model.parameters()).dtype
    data_dir = args.data_dir if args.data_dir is not None else config.data_dir
    limit_test = args.limit_test if args.limit_test is not None else config.limit_test
    # The normalisation the network was trained with, when the weights record it.
    statistics = trained_statistics(weights)
    try:
        test_set = load_split(config.dataset, data_dir, False, dtype, limit_test,
                              statistics=statistics)
        train_set = load_split(config.dataset, data_dir, True, dtype,
                               min(args.batch_size, config.limit_train or args.batch_size),
                               statistics=statistics)
    except DownloadError as error:
        print(f"minicnn plot: {error}", file=sys.stderr)
        return 1
    if args.image >= len(test_set):
        print(f"minicnn plot: --image {args.image} is past the {len(test_set)} test images",
              file=sys.stderr)
        return 2

    images, targets = fetch_batch(test_set, np.arange(len(test_set)))
    probabilities = predict_probabilities(model, images)
    train_images, train_labels = fetch_batch(train_set, np.arange(len(train_set)))
    figures = {
        "curves": lambda: plot_training_curves(metrics),
        "filters": lambda: plot_filters(model),
        "feature_maps": lambda: plot_feature_maps(model, images[args.image]),
        "confusion": lambda: plot_confusion_matrix(
            confusion_matrix(targets, probabilities.argmax(axis=1), probabilities.shape[1])),
        "mistakes": lambda: plot_mistakes(images, targets, probabilities),
        # In training mode, as during training (dropout would be on; LeNet-5 has none).
        "gradient_flow": lambda: plot_gradient_flow(record_gradient_flow(
            model.train(), CrossEntropyLoss(), train_images, train_labels)),
    }
    out_dir = Path(args.out_dir) if args.out_dir is not None else run_dir.path
    print(f"weights: {weights}; {len(test_set)} test images")
    for name in FIGURES:
        path = save_figure(figures[name](), out_dir / f"{name}.png")
        print(f"wrote {path}")
    return 0
