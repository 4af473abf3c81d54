"""The whole benchmark run: ``python -m benchmarks`` (see ``--help``).

Order of work:

1. Make sure MNIST is on disk (:func:`benchmarks.data.fetch_mnist`: downloaded once into
   minicnn's cache unless ``$MINICNN_MNIST_DIR`` names a folder).
2. For each thread count, start a minicnn worker and a PyTorch worker (each in its own
   process and environment, see :mod:`benchmarks.processes`) and hand them the same tasks in
   turn, alternating which goes first: every layer, every training-step batch size, the epoch.
   Before each task the run waits (within a total budget) for a moment when other processes
   leave the CPUs alone, and it records how busy they kept them during the task.
3. Start-up figures (:mod:`benchmarks.startup`) and peak memory (:mod:`benchmarks.memory`),
   each from fresh processes.
4. Print the table with ratios to PyTorch and the targets, write the JSON, and with
   ``--write-results`` regenerate ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from benchmarks.data import REPO_ROOT
from benchmarks.machine import QuietWaiter
from benchmarks.settings import Settings

__all__ = ["DEFAULT_JSON", "DEFAULT_RESULTS", "main", "run_suite"]

DEFAULT_JSON = REPO_ROOT / "benchmarks" / "results" / "latest.json"
DEFAULT_SMOKE_JSON = REPO_ROOT / "benchmarks" / "results" / "smoke.json"
DEFAULT_RESULTS = REPO_ROOT / "benchmarks" / "RESULTS.md"
ALL_GROUPS = ("layers", "step", "epoch", "startup", "memory")


def _log(message: str) -> None:
    print(f"[benchmarks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _run_workers(settings: Settings, keep_openblas_env: bool, quiet: QuietWaiter,
                 log) -> tuple[list, list]:
    """Step 1 of the module docstring: the in-process groups, framework against framework."""
    from benchmarks.machine import BackgroundLoad
    from benchmarks.processes import Worker, child_env
    from benchmarks.worker import GROUPS, group_module

    groups = [group for group in GROUPS if group in settings.groups]
    records, processes = [], []
    if not groups:
        return records, processes
    for threads in settings.threads:
        minicnn_env = child_env("minicnn", keep_openblas_env=keep_openblas_env)
        with Worker("minicnn", threads, settings.to_json(), minicnn_env) as minicnn_worker, \
                Worker("torch", threads, settings.to_json(), child_env("torch")) as torch_worker:
            turn = 0
            for group in groups:
                for task in group_module(group).tasks(settings):
                    # Alternate who goes first, so neither always follows the other's heat.
                    pair = (minicnn_worker, torch_worker)
                    for worker in pair if turn % 2 == 0 else pair[::-1]:
                        log(f"{threads} thread(s): {group} {task} ({worker.framework})")
                        request = {"group": group, "task": task}
                        quiet.wait([os.getpid(), minicnn_worker.pid, torch_worker.pid])
                        with BackgroundLoad([os.getpid(), worker.pid]) as load:
                            answer = worker.request(request)
                        for record in answer["records"]:
                            record["background_cores"] = load.cores
                        records += answer["records"]
                    turn += 1
            for worker in (minicnn_worker, torch_worker):
                process = worker.request({"describe": True})["process"]
                processes.append({**process, "threads": threads})
    return records, processes


def run_suite(settings: Settings, *, keep_openblas_env: bool = False, log=_log,
              command: str = "python -m benchmarks") -> dict:
    """Run every group of ``settings``; return ``{"meta", "records", "targets"}`` (see report)."""
    from benchmarks import memory, startup
    from benchmarks.data import fetch_mnist
    from benchmarks.machine import describe_machine
    from benchmarks.report import check_targets

    started = time.perf_counter()
    machine = describe_machine()
    log(f"{settings.mode} run on {machine['cpu']}, threads {settings.threads}, "
        f"groups {settings.groups}")
    if {"epoch", "memory"} & set(settings.groups):
        # Once, here: the measuring processes only look for the files.
        problem = fetch_mnist()
        if problem is not None:
            log(problem)
    quiet = QuietWaiter(settings.quiet_wait_seconds)
    records, processes = _run_workers(settings, keep_openblas_env, quiet, log)
    if "startup" in settings.groups:
        log("start-up: import times and first training steps (fresh processes)")
        records += startup.run(settings, keep_openblas_env)
    if "memory" in settings.groups:
        log("memory: peak RSS of a training run per framework (fresh processes)")
        records += memory.run(settings, keep_openblas_env)
    meta = {
        "command": command,
        "settings": {**vars(settings)},
        "keep_openblas_env": keep_openblas_env,
        "waited_for_quiet_seconds": quiet.waited_seconds,
        "machine": machine,
        "processes": processes,
        "load_average_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "elapsed_seconds": time.perf_counter() - started,
    }
    return {"meta": meta, "records": records, "targets": check_targets(records, settings)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Race minicnn's Numba kernels and NumPy reference against PyTorch on the "
        "CPU: layers, LeNet-5 training steps, an MNIST epoch, start-up and memory.",
    )
    parser.add_argument("--smoke", action="store_true",
                        help="every benchmark on tiny sizes, once (proves the suite works)")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="thread counts to measure (default: 1 2)")
    parser.add_argument("--only", nargs="+", choices=ALL_GROUPS, default=None,
                        help="run only these groups")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON output (default: {DEFAULT_JSON.relative_to(REPO_ROOT)}, "
                        "or results/smoke.json with --smoke)")
    parser.add_argument("--write-results", nargs="?", type=Path, const=DEFAULT_RESULTS,
                        default=None, metavar="PATH",
                        help="regenerate RESULTS.md (default path: benchmarks/RESULTS.md), "
                        "keeping its Analysis section")
    parser.add_argument("--from-json", type=Path, default=None, metavar="PATH",
                        help="measure nothing: report (and with --write-results, write "
                        "RESULTS.md from) the JSON of an earlier run")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE for minicnn's processes")
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Run the suite from command-line arguments; print the table; return the result."""
    from benchmarks.report import format_table, write_json, write_results_markdown

    parser = _parser()
    args = parser.parse_args(argv)
    if args.from_json is not None:
        from benchmarks.report import check_targets

        result = json.loads(args.from_json.read_text())
        # Judged afresh: the rules for a target's status may have changed since that run.
        settings = Settings.from_json(json.dumps(result["meta"]["settings"]))
        result["targets"] = check_targets(result["records"], settings)
        print(format_table(result))
        if args.write_results is not None:
            write_results_markdown(result, args.write_results)
            print(f"Results written to {args.write_results}")
        return result
    changes = {}
    if args.threads is not None:
        if any(threads < 1 for threads in args.threads):
            parser.error(f"--threads must be positive integers, got {args.threads}")
        changes["threads"] = tuple(args.threads)
    if args.only is not None:
        changes["groups"] = tuple(args.only)
    settings = Settings.smoke(**changes) if args.smoke else Settings.full(**changes)
    command = "python -m benchmarks " + " ".join(
        shlex.quote(arg) for arg in (sys.argv[1:] if argv is None else argv)
    )
    result = run_suite(settings, keep_openblas_env=args.keep_openblas_env,
                       command=command.strip())
    print(format_table(result))
    out = args.out or (DEFAULT_SMOKE_JSON if args.smoke else DEFAULT_JSON)
    write_json(result, out)
    print(f"\nJSON written to {out}")
    if args.write_results is not None:
        write_results_markdown(result, args.write_results)
        print(f"Results written to {args.write_results}")
    return result
