"""``minicnn predict CHECKPOINT IMAGE...``: the digit in each image, with its probability."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from minicnn.models import MODEL_NAMES

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="classify images of digits",
        description="Classify PNG/JPEG images of handwritten digits (any size, either "
                    "polarity): each is converted like MNIST (20x20 box, centred by mass in "
                    "28x28, white on black) and passed through the network.")
    parser.add_argument("checkpoint", metavar="CHECKPOINT",
                        help="a run directory, a .safetensors weights file or checkpoint")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="PNG or JPEG files")
    parser.add_argument("--model", choices=MODEL_NAMES, default=None,
                        help="the network (default: read from the checkpoint)")
    return parser


def run(args: argparse.Namespace) -> int:
    from minicnn.data.digit_image import load_digit_image, normalize_frames
    from minicnn.data.transforms import MNIST_MEAN, MNIST_STD
    from minicnn.functional.activation import softmax
    from minicnn.train.loading import load_trained_model

    try:
        model, _ = load_trained_model(args.checkpoint, args.model)
        frames = np.stack([load_digit_image(path) for path in args.images])
    except (FileNotFoundError, ValueError) as error:  # CheckpointError is a ValueError
        print(f"minicnn predict: {error}", file=sys.stderr)
        return 1
    dtype = next(model.parameters()).dtype
    batch = normalize_frames(frames, dtype, MNIST_MEAN, MNIST_STD)
    probabilities = softmax(model(batch), dim=1)
    for path, row in zip(args.images, probabilities):
        digit = int(row.argmax())
        print(f"{path}: {digit} (p={row[digit]:.3f})")
    return 0
