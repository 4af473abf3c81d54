"""Switching between the three contestants inside a worker process, and their thread counts.

minicnn's two paths run in the same process: the kernel switch
(``minicnn.use_kernels(enabled)``, a context manager) selects one. Until the kernels exist
the switch does not either, and the kernel figures are reported as ``"kernels: not
available"`` instead of silently timing the reference twice.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from contextlib import contextmanager

__all__ = [
    "KERNELS_MISSING",
    "KernelsUnavailableError",
    "kernel_switch",
    "minicnn_variant",
    "run_in_variant",
    "set_threads",
]

KERNELS_MISSING = "kernels: not available"


class KernelsUnavailableError(RuntimeError):
    """The kernels variant was asked for but ``minicnn.kernels`` cannot be imported."""


def kernel_switch() -> Callable | None:
    """minicnn's ``use_kernels(enabled)`` context manager, or ``None`` if there are no kernels."""
    import minicnn

    try:
        # Exported lazily: the attribute access imports minicnn.kernels.switch.
        return minicnn.use_kernels
    except (AttributeError, ImportError):
        pass
    try:
        from minicnn.kernels.switch import use_kernels
    except ImportError:
        return None
    return use_kernels


@contextmanager
def minicnn_variant(variant: str):
    """Run the block with minicnn's ``"reference"`` or ``"kernels"`` path selected.

    Raises:
        KernelsUnavailableError: ``variant == "kernels"`` and the kernels cannot be imported.
    """
    if variant not in ("reference", "kernels"):
        raise ValueError(
            f"minicnn_variant: expected 'reference' or 'kernels', got {variant!r}"
        )
    switch = kernel_switch()
    if switch is None:
        if variant == "kernels":
            raise KernelsUnavailableError(KERNELS_MISSING)
        yield  # without kernels, the reference is the only path
        return
    with switch(variant == "kernels"):
        yield


def run_in_variant(variant: str, work: Callable[[], object]) -> tuple[object, str | None]:
    """``(work(), None)`` run inside ``variant``, or ``(None, why)`` if the kernels could not.

    A missing kernel package gives ``"kernels: not available"``; an error inside the kernels
    gives ``"kernels failed: <error>"`` (traceback on stderr), so one broken kernel costs its
    own rows, not the whole run. An error in the reference path is raised: that is a bug.
    """
    try:
        with minicnn_variant(variant):
            return work(), None
    except KernelsUnavailableError:
        return None, KERNELS_MISSING
    except Exception as error:
        if variant != "kernels":
            raise
        traceback.print_exc(file=sys.stderr)
        message = str(error).splitlines()[0] if str(error) else ""
        return None, f"kernels failed: {type(error).__name__}: {message}"[:200]


def set_threads(framework: str, threads: int) -> None:
    """Give ``framework`` (``"minicnn"`` or ``"torch"``) ``threads`` threads.

    For minicnn that is its own policy, ``minicnn.threads.set_num_threads`` (BLAS and Numba
    together); for PyTorch, ``torch.set_num_threads`` (its intra-op pool, which runs its
    convolutions and matrix products).
    """
    if framework == "minicnn":
        from minicnn.threads import set_num_threads

        set_num_threads(threads)
    elif framework == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        raise ValueError(f"set_threads: framework must be 'minicnn' or 'torch', got {framework!r}")
