"""Start-up costs: ``import minicnn``, and the first training step with a cold and a warm JIT cache.

Each figure comes from fresh processes (a process imports a module only once):

- ``import``: ``python -c "import minicnn"`` timed inside the child with ``perf_counter``
  (interpreter start-up excluded), against ``import torch``. Python's bytecode cache is on,
  as on a user's machine, and an untimed run writes it first.
- ``first step``: a child imports minicnn, builds LeNet-5 and times its first training step
  at batch 64, then the steady state. With an empty ``NUMBA_CACHE_DIR`` (a new temporary
  folder) the first step includes compiling every kernel (*cold*); run again on the same
  folder it only loads them from Numba's cache (*warm*). The NumPy reference and PyTorch have
  no JIT: their first-step figures fill both rows.

Targets (issue 4): ``import minicnn`` under 0.5 s, cold first step under 10 s, warm first
step under 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["FIRST_STEP_PHASES", "row_ids", "run"]

GROUP = "startup"
IMPORT_NAME = "import"
IMPORT_PHASE = "fresh process"
FIRST_STEP_NAME = "LeNet-5 first step"
FIRST_STEP_PHASES = ("cold JIT cache", "warm JIT cache")
FIRST_STEP_BATCH = 64
STEADY_STEPS = 5
_IMPORTED = {"torch": "torch", "reference": "minicnn", "kernels": "minicnn"}
_IMPORT_CODE = (
    "import time; start = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - start)"
)


def row_ids(settings) -> list[str]:
    from benchmarks.records import row_id

    threads = max(settings.threads)
    return [row_id(GROUP, IMPORT_NAME, IMPORT_PHASE, threads)] + [
        row_id(GROUP, FIRST_STEP_NAME, phase, threads) for phase in FIRST_STEP_PHASES
    ]


def _framework(variant: str) -> str:
    return "torch" if variant == "torch" else "minicnn"


def _import_seconds(variant: str, runs: int, warmup: int, keep_openblas_env: bool) -> list[float]:
    from benchmarks.processes import child_env

    changes = {"PYTHONDONTWRITEBYTECODE": None}
    if variant == "reference":
        changes["MINICNN_KERNELS"] = "0"
    env = child_env(_framework(variant), keep_openblas_env=keep_openblas_env, changes=changes)
    code = _IMPORT_CODE.format(module=_IMPORTED[variant])
    seconds = []
    for run_index in range(warmup + runs):  # warm-up runs write the bytecode cache
        completed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                   text=True, check=True)
        if run_index >= warmup:
            seconds.append(float(completed.stdout.strip().splitlines()[-1]))
    return seconds


def _first_step_runs(variant: str, threads: int, runs: int, cache_dir: str | None,
                     keep_openblas_env: bool) -> list[dict]:
    from benchmarks.processes import child_env, run_child

    changes = {} if cache_dir is None else {"NUMBA_CACHE_DIR": cache_dir}
    env = child_env(_framework(variant), keep_openblas_env=keep_openblas_env, changes=changes)
    args = ["--variant", variant, "--threads", str(threads)]
    return [run_child("benchmarks.startup", args, env) for _ in range(runs)]


def _summary(values: list[float]):
    from benchmarks.timing import Timing

    return Timing(statistics.median(values), min(values), max(values), len(values))


def _first_step_record(variant: str, phase: str, threads: int, runs: list[dict], note: str):
    from benchmarks.records import measured

    timing = _summary([run["first_step"] for run in runs])
    return measured(
        GROUP, FIRST_STEP_NAME, phase, threads, variant, value=timing.median, unit="s",
        description=(f"after import: set threads, build LeNet-5, first training step at "
                     f"batch {FIRST_STEP_BATCH}"),
        timing=timing, note=note,
        import_seconds=statistics.median(run["import"] for run in runs),
        setup_seconds=statistics.median(run["setup"] for run in runs),
        first_call_seconds=statistics.median(run["first_step_call"] for run in runs),
        steady_step_seconds=statistics.median(run["steady_step"] for run in runs),
    )


def run(settings, keep_openblas_env: bool = False) -> list[dict]:
    """Every start-up row, at the largest thread count of ``settings``."""
    from benchmarks.records import measured, unavailable
    from benchmarks.variants import KERNELS_MISSING, kernel_switch

    threads = max(settings.threads)
    kernels_available = kernel_switch() is not None
    records = []
    for variant in ("torch", "reference", "kernels"):
        timing = _summary(_import_seconds(variant, settings.import_runs,
                                          settings.import_warmup, keep_openblas_env))
        records.append(measured(
            GROUP, IMPORT_NAME, IMPORT_PHASE, threads, variant, value=timing.median, unit="s",
            description=f"import {_IMPORTED[variant]} (in a fresh process)", timing=timing,
        ))
    for variant in ("torch", "reference"):
        runs = _first_step_runs(variant, threads, settings.first_step_runs, None,
                                keep_openblas_env)
        for phase in FIRST_STEP_PHASES:
            records.append(_first_step_record(variant, phase, threads, runs, "no JIT"))
    if not kernels_available:
        return records + [
            unavailable(GROUP, FIRST_STEP_NAME, phase, threads, "kernels", KERNELS_MISSING)
            for phase in FIRST_STEP_PHASES
        ]
    cold_runs = []
    with tempfile.TemporaryDirectory(prefix="minicnn-numba-cache-") as folder:
        for run_index in range(settings.first_step_runs):
            cache_dir = str(Path(folder) / f"cold-{run_index}")  # a new, empty cache each time
            cold_runs += _first_step_runs("kernels", threads, 1, cache_dir, keep_openblas_env)
        warm_runs = _first_step_runs("kernels", threads, settings.first_step_runs, cache_dir,
                                     keep_openblas_env)
    records.append(_first_step_record("kernels", "cold JIT cache", threads, cold_runs,
                                      "empty NUMBA_CACHE_DIR: compiles every kernel"))
    records.append(_first_step_record("kernels", "warm JIT cache", threads, warm_runs,
                                      "kernels loaded from Numba's cache"))
    return records


def _child(argv: list[str] | None = None) -> None:
    """In a fresh process: import, build LeNet-5, time the first and the steady steps."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup")
    parser.add_argument("--variant", choices=("torch", "reference", "kernels"), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    if args.variant == "torch":
        import torch  # noqa: F401
    else:
        import minicnn  # noqa: F401
    imported = time.perf_counter()
    import_seconds = imported - start

    from benchmarks.training import MinicnnTrainer, TorchTrainer, random_batch
    from benchmarks.variants import minicnn_variant, set_threads

    set_threads(_framework(args.variant), args.threads)
    if args.variant == "torch":
        trainer = TorchTrainer()
        images, labels = trainer.prepare(*random_batch(FIRST_STEP_BATCH))
        setup_seconds = time.perf_counter() - imported
        times = _time_steps(trainer, images, labels)
    else:
        with minicnn_variant(args.variant):
            trainer = MinicnnTrainer()
            images, labels = trainer.prepare(*random_batch(FIRST_STEP_BATCH))
            setup_seconds = time.perf_counter() - imported
            times = _time_steps(trainer, images, labels)
    # The first step counts from the end of the import: setting threads (which loads Numba)
    # and building the model are part of what a user waits for before training runs.
    result = {"import": import_seconds, "setup": setup_seconds,
              "first_step": setup_seconds + times[0], "first_step_call": times[0],
              "steady_step": statistics.median(times[1:])}
    args.out.write_text(json.dumps(result))


def _time_steps(trainer, images, labels) -> list[float]:
    times = []
    for _ in range(1 + STEADY_STEPS):
        start = time.perf_counter()
        trainer.step(images, labels)
        times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    _child()
