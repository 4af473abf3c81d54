"""The ``minicnn`` command line: ``minicnn <command> [options]``.

Each command lives in its own module ``minicnn/cli/<name>.py``, which exposes:

* ``add_parser(subparsers)``: adds its ``argparse`` sub-parser with
  ``subparsers.add_parser("<name>", help=..., description=...)`` and its options, and
  returns it;
* ``run(args) -> int``: does the work and returns the exit status (0 for success).

Adding a command is writing such a module and listing it in :data:`COMMANDS`. A command module
imports what it needs from the rest of minicnn; nothing below the command line imports
``minicnn.cli``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from minicnn import __version__
from minicnn.cli import (
    evaluate,
    exercises,
    explore,
    export,
    gradcheck,
    import_torch,
    plot,
    predict,
    train,
    tune,
)
from minicnn.debug import debug_enabled

__all__ = ["COMMANDS", "build_parser", "file_fault", "main"]

COMMANDS = [train, evaluate, predict, import_torch, gradcheck, export, plot, tune, explore,
            exercises]
"""The command modules, in the order ``minicnn --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command in :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="minicnn",
        description="minicnn: a convolutional-network framework written from scratch in NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"minicnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", title="commands", required=True)
    for command in COMMANDS:
        command_parser = command.add_parser(subparsers)
        # An unusual name, so that no command's own option can shadow it.
        command_parser.set_defaults(_run_command=command.run)
    return parser


def file_fault(error: BaseException) -> bool:
    """Whether ``error`` is a problem with a file or the network that the user can fix.

    Those are reported as one line (their messages name the file, what is wrong and what to
    do); anything else is a bug and keeps its traceback.
    """
    from minicnn.data import DataFileError, DownloadError
    from minicnn.train.checkpoint import CheckpointError

    return isinstance(error, (CheckpointError, DataFileError, DownloadError, FileNotFoundError,
                              PermissionError, IsADirectoryError))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return its exit status.

    Usage errors exit through ``argparse`` with status 2 and a message on stderr. A file
    fault (a missing, truncated or corrupt data file or checkpoint, a failed download) is
    printed as one line, ``minicnn <command>: <what file, what is wrong, what to do>``, with
    status 1; Ctrl-C outside training gives status 130. In debug mode (``MINICNN_DEBUG=1``)
    errors keep their full traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        return args._run_command(args)
    except KeyboardInterrupt:
        if debug_enabled():
            raise
        print(f"\nminicnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as error:
        if debug_enabled() or not file_fault(error):
            raise
        print(f"minicnn {args.command}: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
