"""``minicnn import-torch``: bring PyTorch weights into minicnn (and check they fit).

A ``torch.nn`` model with the same structure (see the torch twins in the README) saves its
state_dict with ``torch.save(model.state_dict(), "lenet.pt")`` or with safetensors; this
command checks every key and shape against the minicnn network and writes a minicnn weights
file. Going the other way needs no command: minicnn's weights files are safetensors with
PyTorch's key names, read by ``safetensors.torch.load_file``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from minicnn.models import MODEL_NAMES
from minicnn.train.config import DATASETS

__all__ = ["add_parser", "read_torch_state_dict", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import-torch", help="convert a PyTorch state_dict into minicnn weights",
        description="Read a PyTorch state_dict (.pt/.pth saved with torch.save, or "
                    ".safetensors), check it against the minicnn network and save it as "
                    "minicnn weights (.safetensors).")
    parser.add_argument("source", metavar="TORCH_FILE")
    parser.add_argument("destination", metavar="OUT.safetensors")
    parser.add_argument("--model", choices=MODEL_NAMES, default="lenet5")
    parser.add_argument("--dataset", choices=DATASETS, default="mnist",
                        help="the images the network takes (its classes and channels); "
                             "recorded in the weights")
    return parser


def read_torch_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Arrays from a safetensors file, or from a torch.save file (needs torch installed).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a state_dict of tensors (one-line message naming it).
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        from minicnn.train.checkpoint import load_weights

        return load_weights(path)
    try:
        import torch
    except ImportError:
        raise ValueError(f"{path}: reading a torch.save file needs PyTorch installed; or save "
                         "the state_dict with safetensors.torch.save_file instead") from None
    try:
        # weights_only: never run code from the file (a plain state_dict needs none).
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError...
        reason = " ".join(str(error).split())[:200]
        raise ValueError(f"{path}: not a state_dict torch.load can read safely ({reason}); "
                         "save model.state_dict(), not the model") from None
    if not isinstance(state, dict) or not all(
            isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{path}: expected a state_dict (a dict of tensors), got "
                         f"{type(state).__name__}; save model.state_dict(), not the model")
    return {key: value.detach().cpu().numpy() for key, value in state.items()}


def run(args: argparse.Namespace) -> int:
    from minicnn.models import build_model
    from minicnn.train.checkpoint import save_weights
    from minicnn.train.datasets import dataset_spec

    try:
        state = read_torch_state_dict(Path(args.source))
    except (FileNotFoundError, ValueError) as error:  # CheckpointError is a ValueError
        print(f"minicnn import-torch: {error}", file=sys.stderr)
        return 1
    if not state:
        print(f"minicnn import-torch: {args.source} holds no tensors", file=sys.stderr)
        return 1
    dataset_class = dataset_spec(args.dataset).dataset_class
    model = build_model(args.model, num_classes=len(dataset_class.classes),
                        in_channels=dataset_class.channels)
    dtype = next(iter(state.values())).dtype
    model.to(dtype if np.issubdtype(dtype, np.floating) else np.float32)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        print(f"minicnn import-torch: {args.source} does not fit minicnn's {args.model}:\n"
              f"{error}", file=sys.stderr)
        return 1
    metadata = {"minicnn.model": args.model}
    if args.dataset != "mnist":
        metadata["minicnn.dataset"] = args.dataset
    save_weights(args.destination, model.state_dict(), metadata)
    print(f"wrote {args.destination}: {len(state)} tensors for {args.model}")
    return 0
