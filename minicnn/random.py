"""The global random-number generator behind initialisation, dropout and shuffling.

Every function that draws randomness takes ``generator=None``, meaning this module's global
``numpy.random.Generator``; ``manual_seed`` resets it, so a seeded run repeats exactly.
"""

from __future__ import annotations

import numpy as np

__all__ = ["default_generator", "get_rng_state", "manual_seed", "set_rng_state"]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator (as ``torch.manual_seed``) and return it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator used wherever ``generator=None``."""
    return _generator


def get_rng_state() -> dict:
    """The global generator's state, a plain dict a checkpoint can store."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state
