"""One measured figure as a JSON-ready dict, and the names of the three things compared.

Every figure is a *row* (what was measured: group, name, phase, thread count) times a
*variant* (who ran it: PyTorch, the minicnn NumPy reference, the minicnn Numba kernels).
Lower is better for every value (seconds or megabytes), so a ratio to PyTorch below 1 means
minicnn wins.
"""

from __future__ import annotations

from benchmarks.timing import Timing

__all__ = ["MINICNN_VARIANTS", "VARIANTS", "VARIANT_TITLES", "measured", "row_id", "unavailable"]

VARIANTS = ("torch", "reference", "kernels")
MINICNN_VARIANTS = ("reference", "kernels")
VARIANT_TITLES = {"torch": "PyTorch", "reference": "NumPy ref", "kernels": "kernels"}


def row_id(group: str, name: str, phase: str, threads: int) -> str:
    """The stable key of a row, e.g. ``"layers/conv1/forward@2"``."""
    return f"{group}/{name}/{phase}@{threads}"


def _base(group, name, phase, threads, variant, description) -> dict:
    if variant not in VARIANTS:
        raise ValueError(f"benchmarks: variant must be one of {VARIANTS}, got {variant!r}")
    return {
        "id": row_id(group, name, phase, threads),
        "group": group,
        "name": name,
        "phase": phase,
        "threads": threads,
        "variant": variant,
        "description": description,
    }


def measured(group: str, name: str, phase: str, threads: int, variant: str, *,
             value: float, unit: str, description: str = "", timing: Timing | None = None,
             **extra) -> dict:
    """A figure that was measured: ``value`` in ``unit`` (``"s"`` or ``"MB"``), lower is better.

    ``timing`` adds the spread (min, max, sample count); ``extra`` adds anything else worth
    keeping (images per second, the breakdown of a first step, ...).
    """
    record = _base(group, name, phase, threads, variant, description)
    record.update(available=True, value=float(value), unit=unit)
    if timing is not None:
        record.update(minimum=timing.minimum, maximum=timing.maximum, repeats=timing.repeats)
    record.update(extra)
    return record


def unavailable(group: str, name: str, phase: str, threads: int, variant: str, note: str,
                description: str = "") -> dict:
    """A figure that could not be measured, with the reason (``"kernels: not available"``)."""
    record = _base(group, name, phase, threads, variant, description)
    record.update(available=False, value=None, unit=None, note=note)
    return record
