"""Numba kernels: the fast twins of :mod:`minicnn.functional`, used by default.

Each module here mirrors the reference module of the same name, with the same function
names, arguments and results (tests in ``tests/kernels`` hold each pair equal, and both to
PyTorch):

==================  ==========================================================================
``conv``            cache-sized chunks of the batch through im2col, BLAS and epilogue
``pooling``         max/avg pooling forward and backward, parallel over planes
``activation``      ReLU forward and backward
``linear``          the reference's products with BLAS kept to one thread
``loss``            softmax cross-entropy for ``(N, C)`` logits and class indices
``optim``           SGD's update as one loop per parameter
``fused``           Conv2d -> ReLU -> MaxPool2d(2) and Linear -> ReLU in one pass each
==================  ==========================================================================

Beside them, with no twin: ``split`` hands a convolution's parts to helper threads (which spin
briefly between calls while a core is spare), ``_memory`` has glibc keep freed memory for the
next step's arrays, and ``_jit`` configures Numba.

Layers pick their implementation at call time with :func:`backend`, which follows the single
switch :func:`use_kernels` (or ``MINICNN_KERNELS=0`` in the environment). Numba itself is
imported only when a kernel module is first used, so ``import minicnn`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from minicnn.kernels.switch import kernels_enabled, use_kernels

__all__ = ["backend", "kernels_enabled", "use_kernels"]

OPS = ("activation", "conv", "linear", "loss", "optim", "pooling")
"""The ops with a kernel twin: module names shared by ``minicnn.functional`` and here."""


def backend(op: str) -> ModuleType:
    """The module that implements ``op`` right now.

    ``minicnn.kernels.<op>`` when the kernels are enabled, else the readable reference
    ``minicnn.functional.<op>``; both offer the same functions with the same signatures, so
    a layer writes ``backend("conv").conv2d_forward(...)`` and runs either.
    """
    if op not in OPS:
        raise ValueError(f"minicnn.kernels.backend: unknown op {op!r}, expected one of {OPS}")
    name = f"minicnn.kernels.{op}" if kernels_enabled() else f"minicnn.functional.{op}"
    # Looked up in sys.modules first: import_module costs microseconds on every layer call.
    module = sys.modules.get(name)
    return module if module is not None else importlib.import_module(name)
