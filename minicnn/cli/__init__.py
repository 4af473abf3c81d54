"""The ``minicnn`` command line: ``minicnn <command> [options]``.

Each command lives in its own module ``minicnn/cli/<name>.py``, which exposes:

* ``NAME``: the command's name on the command line (``"gradcheck"``);
* ``add_parser(subparsers)``: adds its ``argparse`` sub-parser (help text and options);
* ``run(args) -> int``: does the work and returns the exit status (0 for success).

Adding a command is writing such a module and listing it in :data:`COMMANDS`. A command module
imports what it needs from the rest of minicnn; nothing below the command line imports
``minicnn.cli``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from minicnn import __version__
from minicnn.cli import gradcheck

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = [gradcheck]
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
        command_parser.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return its exit status.

    Usage errors exit through ``argparse`` with status 2 and a message on stderr.
    """
    args = build_parser().parse_args(argv)
    return args.run(args)
