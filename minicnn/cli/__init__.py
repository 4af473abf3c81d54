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
from collections.abc import Sequence

from minicnn import __version__
from minicnn.cli import evaluate, gradcheck, import_torch, plot, predict, train, tune

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = [train, evaluate, predict, import_torch, gradcheck, plot, tune]
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


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return its exit status.

    Usage errors exit through ``argparse`` with status 2 and a message on stderr.
    """
    args = build_parser().parse_args(argv)
    return args._run_command(args)
