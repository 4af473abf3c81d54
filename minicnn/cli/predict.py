"""``minicnn predict CHECKPOINT IMAGE...``: the class of each image, with its probability.

A network trained on digits sees each image converted like MNIST (20x20 box, centred by mass
in 28x28, white on black); a network trained on CIFAR sees the centred square of the photo
scaled to 32x32 RGB. Both are then normalised as the training images were.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from minicnn.models import MODEL_NAMES
from minicnn.train.config import DATASETS

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="classify images (digits, or photos for a CIFAR network)",
        description="Classify PNG/JPEG images of any size. For a network trained on digits, "
                    "each is converted like MNIST (20x20 box, centred by mass in 28x28, white "
                    "on black, either polarity accepted); for one trained on CIFAR, its "
                    "centred square is scaled to 32x32 RGB.")
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="a run directory, a .safetensors weights file or checkpoint")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="PNG or JPEG files")
    parser.add_argument("--model", choices=MODEL_NAMES, default=None,
                        help="the network (default: read from the checkpoint)")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="the dataset the network was trained on (default: read from the "
                             "checkpoint, else mnist)")
    return parser


def run(args: argparse.Namespace) -> int:
    from minicnn.data.colour_image import load_colour_image
    from minicnn.data.digit_image import load_digit_image
    from minicnn.data.transforms import Normalize
    from minicnn.functional.activation import softmax
    from minicnn.train.datasets import dataset_spec
    from minicnn.train.loading import load_trained_model, trained_dataset, trained_statistics

    try:
        dataset = args.dataset or trained_dataset(args.checkpoint)
        dataset_class = dataset_spec(dataset).dataset_class
        model, weights = load_trained_model(args.checkpoint, args.model, dataset)
        if dataset_class.channels == 3:
            frames = np.stack([load_colour_image(path, dataset_class.image_size)
                               for path in args.images])
        else:
            frames = np.stack([load_digit_image(path) for path in args.images])[:, None]
    except (FileNotFoundError, ValueError) as error:  # CheckpointError is a ValueError
        print(f"minicnn predict: {error}", file=sys.stderr)
        return 1
    dtype = next(model.parameters()).dtype
    statistics = trained_statistics(weights) or (dataset_class.mean, dataset_class.std)
    batch = Normalize(*statistics)(frames.astype(dtype) / dtype.type(255))
    probabilities = softmax(model(batch), dim=1)
    for path, row in zip(args.images, probabilities):
        label = int(row.argmax())
        # A digit is its own name; another class is named by the dataset.
        name = label if dataset in ("mnist",) else dataset_class.classes[label]
        print(f"{path}: {name} (p={row[label]:.3f})")
    return 0
