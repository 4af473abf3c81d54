"""``minicnn ARGV`` run in the test's own process, its output captured."""

from __future__ import annotations

import contextlib
import io

__all__ = ["run_cli"]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``minicnn ARGV`` in this process: (exit status, stdout, stderr); usage errors give 2."""
    from minicnn.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
    return status, stdout.getvalue(), stderr.getvalue()
