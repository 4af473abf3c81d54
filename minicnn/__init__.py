"""minicnn: a convolutional-network framework written from scratch in NumPy.

The subpackages mirror PyTorch's: :mod:`minicnn.nn` (Module, layers, losses, init),
:mod:`minicnn.functional` (the maths as pure functions), :mod:`minicnn.optim`,
:mod:`minicnn.data`, :mod:`minicnn.models`, :mod:`minicnn.train`; :mod:`minicnn.viz` draws
what a network learns (curves, filters, feature maps, gradient flow) and
:func:`minicnn.summary` tabulates a model.

``import minicnn`` loads only NumPy and the global random generator; each name below is
imported on first use (PEP 562), so ``import minicnn.data`` does not pay for the layers and
no command pays for Numba before it runs a kernel.
"""

from __future__ import annotations

import importlib

from minicnn.random import manual_seed

__version__ = "0.1.0"

# name -> (module, attribute or None for the module itself)
_LAZY = {
    "nn": ("minicnn.nn", None),
    "functional": ("minicnn.functional", None),
    "optim": ("minicnn.optim", None),
    "data": ("minicnn.data", None),
    "models": ("minicnn.models", None),
    "train": ("minicnn.train", None),
    "testing": ("minicnn.testing", None),
    "gradcheck": ("minicnn.gradient_check", "gradcheck"),
    "GradcheckError": ("minicnn.gradient_check", "GradcheckError"),
    "set_num_threads": ("minicnn.threads", "set_num_threads"),
    "use_kernels": ("minicnn.kernels.switch", "use_kernels"),
    "kernels_enabled": ("minicnn.kernels.switch", "kernels_enabled"),
    "set_debug": ("minicnn.debug", "set_debug"),
    "debug_enabled": ("minicnn.debug", "debug_enabled"),
    "NonFiniteError": ("minicnn.debug", "NonFiniteError"),
    "viz": ("minicnn.viz", None),
    "summary": ("minicnn.viz.summary", "summary"),
}

__all__ = ["__version__", "manual_seed", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'minicnn' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
