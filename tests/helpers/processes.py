"""The repository's root, and ``minicnn`` run as a subprocess from this checkout."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["REPO_ROOT", "minicnn_command", "subprocess_env"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def minicnn_command(*args: str) -> list[str]:
    """``python -m minicnn ARGS`` with this interpreter."""
    return [sys.executable, "-m", "minicnn", *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a ``minicnn`` subprocess: this one, plus ``extra``, with this
    checkout importable."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env
