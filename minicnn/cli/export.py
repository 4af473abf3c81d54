"""``minicnn export RUN_DIR model.onnx``: a trained network as an ONNX file.

Example::

    minicnn export runs/lenet5-mnist-20261123-101500 lenet5.onnx
    minicnn export runs/<run>/last.safetensors lenet5.onnx --opset 13

The file takes a float batch of any size (``input``: the images of the dataset the weights
were trained on, shape ``(batch, 1, 28, 28)`` for MNIST, ``(batch, 3, 32, 32)`` for CIFAR)
and returns the logits (``output``, ``(batch, classes)``); onnxruntime runs it to minicnn's
answers (the tests hold it to rtol 1e-4, atol 1e-5).
"""

from __future__ import annotations

import argparse
import sys

from minicnn.cli.arguments import positive_int
from minicnn.models import MODEL_NAMES

__all__ = ["add_parser", "run"]

def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be positive integers separated by commas (C,H,W), got {text!r}") from None


def add_parser(subparsers) -> argparse.ArgumentParser:
    from minicnn.onnx.export import DEFAULT_OPSET, MIN_OPSET

    parser = subparsers.add_parser(
        "export", help="export trained weights as an ONNX model",
        description="Write a run directory's network (or a weights file's, or a checkpoint's) "
                    "as an ONNX file with a dynamic batch axis, for onnxruntime and any other "
                    "ONNX runtime (the onnx extra: pip install 'minicnn-numpy[onnx]').")
    # Each default is stated in its help text, once (ArgumentDefaultsHelpFormatter would add
    # "(default: None)" after those given in words).
    parser.add_argument("checkpoint", metavar="RUN_DIR",
                        help="a run directory (its best weights), a .safetensors weights file "
                             "or checkpoint")
    parser.add_argument("output", metavar="OUTPUT", help="the .onnx file to write")
    parser.add_argument("--model", choices=MODEL_NAMES, default=None,
                        help="the network (default: read from the checkpoint)")
    parser.add_argument("--opset", type=positive_int, default=DEFAULT_OPSET,
                        help=f"ONNX operator-set version, {MIN_OPSET} or later (default: "
                             f"{DEFAULT_OPSET})")
    parser.add_argument("--input-shape", type=_shape, default=None, metavar="C,H,W",
                        help="one input's shape, without the batch axis (default: an image of "
                             "the dataset the weights were trained on: 1,28,28 for MNIST, "
                             "3,32,32 for CIFAR)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="the graph's float type, whatever the weights' (onnxruntime's CPU "
                             "build has no float64 convolution; default: float32)")
    return parser


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from minicnn.onnx import ExportError, export
    from minicnn.train.datasets import dataset_spec
    from minicnn.train.loading import load_trained_model, trained_dataset

    try:
        model, weights = load_trained_model(args.checkpoint, args.model)
    except (FileNotFoundError, ValueError) as error:  # CheckpointError is a ValueError
        print(f"minicnn export: {error}", file=sys.stderr)
        return 1
    shape = args.input_shape
    if shape is None:
        dataset_class = dataset_spec(trained_dataset(weights)).dataset_class
        shape = (dataset_class.channels, *dataset_class.image_size)
    dtype = np.dtype(args.dtype)
    model.to(dtype)
    example = np.zeros((1, *shape), dtype=dtype)
    try:
        export(model, example, args.output, opset=args.opset)
    except (ExportError, ValueError) as error:
        print(f"minicnn export: {error}", file=sys.stderr)
        return 1
    print(f"weights: {weights}")
    print(f"wrote {args.output}: ONNX opset {args.opset}, input 'input' "
          f"(batch, {', '.join(map(str, shape))}) {dtype}, output 'output'")
    return 0
