"""Turning records into what people read: the table with ratios to PyTorch, the targets, JSON
and ``benchmarks/RESULTS.md``.

A ratio is ``minicnn's figure / PyTorch's`` for the same row (time or memory, lower is
better for both), so ``0.70x`` means minicnn needs 70% of PyTorch's time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.epoch import epoch_name_for_batch
from benchmarks.records import VARIANT_TITLES, VARIANTS, row_id
from benchmarks.step import step_name

__all__ = [
    "TARGETS",
    "Target",
    "check_targets",
    "expected_row_ids",
    "format_results_markdown",
    "format_table",
    "write_json",
    "write_results_markdown",
]

NOISY_BACKGROUND_CORES = 0.25
"""A figure taken while other processes kept this much of a core busy is marked ``!``."""
_ANALYSIS_START = "<!-- analysis:start -->"
_ANALYSIS_END = "<!-- analysis:end -->"
_GROUP_TITLES = {
    "layers": "Layers (forward, backward, both), per call",
    "step": "LeNet-5 training step",
    "epoch": "One MNIST training epoch",
    "startup": "Start-up",
    "memory": "Peak resident memory",
}


def expected_row_ids(settings) -> list[str]:
    """Every row a run with ``settings`` produces (each with one record per variant)."""
    from benchmarks import epoch, layers, memory, startup, step

    modules = {"layers": layers, "step": step, "epoch": epoch, "startup": startup,
               "memory": memory}
    return [rid for group in settings.groups for rid in modules[group].row_ids(settings)]


def _by_row(records: list[dict]) -> dict[str, dict[str, dict]]:
    """``{row id: {variant: record}}``, rows in the order they were first measured."""
    rows: dict[str, dict[str, dict]] = {}
    for record in records:
        rows.setdefault(record["id"], {})[record["variant"]] = record
    return rows


def ratio(record: dict | None, torch_record: dict | None) -> float | None:
    """``record``'s value over PyTorch's, or ``None`` when either is missing."""
    if not record or not torch_record or not record["available"] or not torch_record["available"]:
        return None
    if torch_record["value"] <= 0:
        return None
    return record["value"] / torch_record["value"]


def format_value(record: dict | None) -> str:
    """``"1.23 ms"``, ``"12.3 s"``, ``"240 MB"``; ``"n/a"`` for a figure not measured."""
    if record is None or not record["available"]:
        return "n/a"
    value, unit = record["value"], record["unit"]
    if unit == "MB":
        text = f"{value:.0f} MB"
    elif value >= 1:
        text = f"{value:.3g} s"
    elif value >= 1e-3:
        text = f"{value * 1e3:.3g} ms"
    else:
        text = f"{value * 1e6:.3g} us"
    if "images_per_second" in record:
        text += f" ({record['images_per_second']:,.0f} img/s)"
    if record.get("extrapolated"):
        text += "*"
    if _noisy(record):
        text += "!"
    return text


def _noisy(record: dict) -> bool:
    background = record.get("background_cores")
    return background is not None and background >= NOISY_BACKGROUND_CORES


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _row_label(record: dict) -> str:
    if record["group"] == "layers":
        return f"{record['name']} {record['phase']}"
    return f"{record['name']}, {record['phase']}"


def table_rows(records: list[dict], group: str) -> list[list[str]]:
    """The rows of one group's table: label, threads, one value per variant, two ratios."""
    rows = []
    for by_variant in _by_row(records).values():
        first = next(iter(by_variant.values()))
        if first["group"] != group:
            continue
        torch_record = by_variant.get("torch")
        rows.append(
            [_row_label(first), str(first["threads"])]
            + [format_value(by_variant.get(variant)) for variant in VARIANTS]
            + [format_ratio(ratio(by_variant.get(variant), torch_record))
               for variant in ("reference", "kernels")]
        )
    return rows


TABLE_HEADER = (["benchmark", "threads"] + [VARIANT_TITLES[v] for v in VARIANTS]
                + ["ref/torch", "kernels/torch"])


def _notes(records: list[dict]) -> list[str]:
    """One line per distinct reason a figure is missing, plus the extrapolation footnote."""
    notes = []
    for record in records:
        if not record["available"]:
            line = f"n/a ({VARIANT_TITLES[record['variant']]}): {record['note']}"
            if line not in notes:
                notes.append(line)
    if any(record.get("extrapolated") for record in records):
        notes.append("* extrapolated to the full epoch from the throughput on the images timed")
    noisy = [record for record in records if _noisy(record)]
    if noisy:
        worst = max(record["background_cores"] for record in noisy)
        notes.append(
            f"! measured while other processes kept >= {NOISY_BACKGROUND_CORES} of a core busy "
            f"(up to {worst:.2f} cores; {len(noisy)} of {len(records)} figures): on a 2-core "
            "machine a 2-thread figure then mostly measures the wait for the scheduler"
        )
    return notes


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                         for i, (cell, width) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _groups_in(records: list[dict]) -> list[str]:
    return list(dict.fromkeys(record["group"] for record in records))


def format_table(result: dict) -> str:
    """The plain-text report: one table per group, the notes, then the targets."""
    records = result["records"]
    parts = []
    for group in _groups_in(records):
        parts.append(f"{_GROUP_TITLES.get(group, group)}\n"
                     f"{_text_table(TABLE_HEADER, table_rows(records, group))}")
    notes = _notes(records)
    if notes:
        parts.append("\n".join(notes))
    targets = result.get("targets") or []
    if targets:
        rows = [[t["target"], t["measured"], t["status"]] for t in targets]
        parts.append("Targets (issue 4)\n" + _text_table(["target", "measured", "status"], rows))
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Target:
    """One goal of issue 4: a row, the variant it judges, a limit and what is compared."""

    label: str
    row: Callable  # settings -> row id
    limit: float
    compare: str  # "ratio" (kernels / torch) or "value" (kernels' own figure)
    unit: str = ""


def _at_threads(group, name, phase):
    return lambda settings: row_id(group, name(settings) if callable(name) else name, phase,
                                   max(settings.threads))


def _conv_target(layer: str, limit: float) -> Target:
    return Target(f"{layer} forward+backward <= {limit}x PyTorch",
                  _at_threads("layers", layer, "forward+backward"), limit, "ratio")


TARGETS = (
    Target("LeNet-5 step, batch 64 <= 0.75x PyTorch",
           _at_threads("step", step_name(64), "train step"), 0.75, "ratio"),
    Target("LeNet-5 step, batch 256 <= 1.0x PyTorch",
           _at_threads("step", step_name(256), "train step"), 1.0, "ratio"),
    _conv_target("conv1", 1.5),
    _conv_target("conv2", 1.5),
    _conv_target("conv3x32", 1.5),
    _conv_target("conv64x64", 1.5),
    Target("MNIST epoch, batch 64 <= 0.8x PyTorch",
           _at_threads("epoch", epoch_name_for_batch(64), "train epoch"), 0.8, "ratio"),
    Target("import minicnn < 0.5 s", _at_threads("startup", "import", "fresh process"), 0.5,
           "value", "s"),
    Target("cold-cache first step < 10 s",
           _at_threads("startup", "LeNet-5 first step", "cold JIT cache"), 10.0, "value", "s"),
    Target("warm-cache first step < 1 s",
           _at_threads("startup", "LeNet-5 first step", "warm JIT cache"), 1.0, "value", "s"),
    Target("peak RSS of LeNet-5 MNIST training < 250 MB",
           _at_threads("memory", "peak RSS", "LeNet-5 MNIST training"), 250.0, "value", "MB"),
)


def check_targets(records: list[dict], settings) -> list[dict]:
    """Each target with the kernels' figure and ``"met"``, ``"missed"`` or ``"not measured"``.

    A row with a figure taken beside a busy core is not judged: its status reads
    ``"not judged (noisy; would be met)"`` (or ``missed``), since contention slows minicnn and
    PyTorch by different amounts and a ratio taken so proves nothing either way.
    """
    rows = _by_row(records)
    checked = []
    for target in TARGETS:
        by_variant = rows.get(target.row(settings), {})
        kernels = by_variant.get("kernels")
        if target.compare == "ratio":
            value = ratio(kernels, by_variant.get("torch"))
            measured_text = format_ratio(value)
        else:
            value = kernels["value"] if kernels and kernels["available"] else None
            measured_text = format_value(kernels) if value is not None else "-"
        if value is None or (isinstance(value, float) and math.isnan(value)):
            status = "not measured"
        else:
            status = "met" if value <= target.limit else "missed"
            if any(_noisy(record) for record in by_variant.values()):
                status = f"not judged (noisy; would be {status})"
        checked.append({"target": target.label, "row": target.row(settings), "limit": target.limit,
                        "compare": target.compare, "value": value, "measured": measured_text,
                        "status": status})
    return checked


def write_json(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")


def _pool_text(pool: dict) -> str:
    """``"openblas 0.3.31 SkylakeX (2 threads)"``: a threadpoolctl pool in a few words."""
    words = [pool.get("internal_api"), pool.get("version"), pool.get("architecture")]
    threads = pool.get("num_threads")
    return " ".join(w for w in words if w) + f" ({threads} thread{'' if threads == 1 else 's'})"


def _blas_summary(processes: list[dict]) -> list[str]:
    """One line per worker: the pools its figures ran on (threadpoolctl's view)."""
    lines = []
    for process in processes:
        if process["framework"] == "torch":
            # NumPy's OpenBLAS is loaded in the torch worker too, but torch never calls it.
            pools = [p for p in process["thread_pools"] if p.get("user_api") == "openmp"]
            details = (f"BLAS {process.get('torch_blas')}, oneDNN "
                       f"{'on' if process.get('torch_mkldnn') else 'off'}, CPU capability "
                       f"{process.get('torch_cpu_capability')}, intra-op threads "
                       f"{process.get('torch_threads')}")
        else:
            pools = [p for p in process["thread_pools"] if p.get("user_api") == "blas"]
            details = (f"Numba threads {process.get('numba_threads')}, threading layer "
                       f"{process.get('numba_threading_layer')}")
        pool_text = ", ".join(_pool_text(pool) for pool in pools)
        lines.append(f"- {process['framework']} worker at {process['threads']} thread(s): "
                     f"{pool_text}; {details}")
    return list(dict.fromkeys(lines))


def format_results_markdown(result: dict, analysis: str) -> str:
    """RESULTS.md: machine, targets, every table, and the hand-written ``analysis``."""
    meta = result["meta"]
    machine = meta["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items()
                         if version)
    load_start = ", ".join(f"{x:.1f}" for x in machine.get("load_average") or [])
    load_end = ", ".join(f"{x:.1f}" for x in meta.get("load_average_end") or [])
    lines = [
        "# Benchmark results",
        "",
        "<!-- Generated by `python -m benchmarks --write-results`; only the Analysis section "
        "between its markers, and the sections after it, are kept when regenerating. -->",
        "",
        f"Measured {machine['date']} by `{meta['command']}` ({meta['settings']['mode']} mode, "
        f"{meta['elapsed_seconds']:.0f} s). Each figure is the median of repeated timings; "
        "minicnn and PyTorch ran in separate processes with the same thread count, taking turns "
        "task by task. Ratios are minicnn / PyTorch: below 1.00x minicnn is faster.",
        "",
        "Reproduce: `python -m benchmarks --write-results` (the full suite, 3-10 minutes on 2 "
        "cores; JSON in `benchmarks/results/latest.json`); `python -m benchmarks --smoke` only "
        "proves the suite runs.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']} ({', '.join(machine['cpu_flags'])}); "
        f"{machine['logical_cores']} logical cores, {machine['usable_cores']} usable",
        f"- Load average (1, 5, 15 min) at start: {load_start}; at end: {load_end} "
        "(a shared machine: other jobs ran alongside); waited "
        f"{meta.get('waited_for_quiet_seconds', 0):.0f} s in all for quiet moments",
        f"- Python {machine['python']}, {machine['platform']}",
        f"- Libraries: {versions}",
        *_blas_summary(meta.get("processes", [])),
        "",
        "## Targets (issue 4, 2 threads)",
        "",
        _markdown_table(["target", "measured", "status"],
                        [[t["target"], t["measured"], t["status"]] for t in result["targets"]]),
        "",
    ]
    records = result["records"]
    for group in _groups_in(records):
        lines += [f"## {_GROUP_TITLES.get(group, group)}", "",
                  _markdown_table(TABLE_HEADER, table_rows(records, group)), ""]
        if group == "layers":
            descriptions = dict.fromkeys(
                f"{r['name']}: {r['description']}" for r in records if r["group"] == "layers"
            )
            lines += ["Layers: " + "; ".join(descriptions) + ".", ""]
    notes = _notes(records)
    if notes:
        # A note starting with a marker (* or !) would read as Markdown emphasis: escape it.
        escaped = [re.sub(r"^([*!])", r"\\\1", note) for note in notes]
        lines += ["Notes:", "", *[f"- {note}" for note in escaped], ""]
    lines += ["## Analysis", "", _ANALYSIS_START, analysis.strip(), _ANALYSIS_END, ""]
    return "\n".join(lines)


def existing_analysis(path: Path) -> str:
    """The Analysis section of an existing RESULTS.md, kept across regenerations."""
    if not path.exists():
        return "(No analysis written yet.)"
    match = re.search(re.escape(_ANALYSIS_START) + r"(.*?)" + re.escape(_ANALYSIS_END),
                      path.read_text(), flags=re.DOTALL)
    return match.group(1).strip() if match else "(No analysis written yet.)"


def existing_tail(path: Path) -> str:
    """What an existing RESULTS.md holds after its Analysis section: hand-written sections
    of other measurements (``python -m benchmarks.distributed``), kept across regenerations."""
    if not path.exists():
        return ""
    text = path.read_text()
    end = text.find(_ANALYSIS_END)
    return "" if end < 0 else text[end + len(_ANALYSIS_END):].strip()


def write_results_markdown(result: dict, path: Path) -> None:
    text = format_results_markdown(result, existing_analysis(path))
    tail = existing_tail(path)
    path.write_text(text + ("\n" + tail + "\n" if tail else ""))
