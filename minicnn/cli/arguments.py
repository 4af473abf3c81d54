"""Argument types shared by the commands: numbers that must be positive, or at least zero.

Each is an ``argparse`` ``type=``: it returns the parsed value or raises
``ArgumentTypeError``, which the parser prints as ``argument --lr: must be a positive number,
got 0`` and exits with status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["non_negative_float", "non_negative_int", "positive_float", "positive_int"]


def _number(text: str, parse: Callable[[str], float], accept: Callable[[float], bool],
            requirement: str):
    try:
        value = parse(text)
    except ValueError:
        # Quoted: "got 'x'" reads as the text typed, not as a number.
        raise argparse.ArgumentTypeError(f"must be {requirement}, got {text!r}") from None
    # Written "not accept" so that NaN, which fails every comparison, is refused too.
    if not accept(value):
        raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, lambda value: value >= 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _number(text, int, lambda value: value >= 0, "zero or a positive integer")


def positive_float(text: str) -> float:
    return _number(text, float, lambda value: value > 0, "a positive number")


def non_negative_float(text: str) -> float:
    return _number(text, float, lambda value: value >= 0, "zero or positive")
