"""The one switch between the fast Numba kernels and the readable NumPy reference.

``use_kernels(False)`` makes every layer call :mod:`minicnn.functional` (plain NumPy a learner
can step through); ``use_kernels(True)``, the default, makes them call :mod:`minicnn.kernels`.
The environment variable ``MINICNN_KERNELS=0`` starts a process with the reference. Layers
read the switch at every call, so flipping it between steps is allowed; a layer's backward
always uses the implementation its forward used.

This module imports nothing heavy (no Numba), so ``import minicnn`` stays fast.
"""

from __future__ import annotations

import os

__all__ = ["kernels_enabled", "use_kernels"]

_FALSE_WORDS = ("0", "false", "no", "off")


def _enabled_from_environment() -> bool:
    return os.environ.get("MINICNN_KERNELS", "1").strip().lower() not in _FALSE_WORDS


_enabled = _enabled_from_environment()


def kernels_enabled() -> bool:
    """``True`` when layers run the Numba kernels, ``False`` for the NumPy reference."""
    return _enabled


class use_kernels:  # noqa: N801 - a function to its callers, like torch.set_grad_enabled
    """Select the fast kernels (``True``) or the NumPy reference (``False``).

    Takes effect at once, for the whole process::

        minicnn.use_kernels(False)          # from now on, the reference

    and, used as a context manager, restores the previous choice on exit (also on error)::

        with minicnn.use_kernels(False):
            loss = criterion(model(x), y)   # the reference, step by step
    """

    def __init__(self, enabled: bool):
        global _enabled
        if not isinstance(enabled, bool):
            raise TypeError(f"use_kernels: expected True or False, got {enabled!r}")
        self._previous = _enabled
        _enabled = enabled

    def __enter__(self) -> use_kernels:
        return self

    def __exit__(self, *exc_info) -> None:
        global _enabled
        _enabled = self._previous

    def __repr__(self) -> str:
        return f"use_kernels({_enabled})"
