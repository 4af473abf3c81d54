"""A worker process: one framework at one thread count, measuring what it is asked, in turn.

The suite starts one minicnn worker and one PyTorch worker per thread count and hands them
the same tasks alternately (a layer, a batch size, the epoch), so both frameworks meet the
same machine: on a shared machine whose speed drifts, figures taken minutes apart would not
compare. The protocol is one JSON object per line:

- worker -> suite, at start: ``{"ready": true}``
- suite -> worker: ``{"group": "layers", "task": "conv1"}``; the answer:
  ``{"records": [...]}`` or ``{"error": "<traceback>"}``
- suite -> worker: ``{"describe": true}``; the answer: ``{"process": {...}}`` (thread pools,
  BLAS, threading layer: asked for last, once the kernels have run)
- end of input: the worker exits.

Started as ``python -m benchmarks.worker --framework torch --threads 2 --settings '{...}'``.
A PyTorch worker imports torch before anything of minicnn's, so torch's OpenMP runtime is
set up from the clean environment it was given (see :mod:`benchmarks.processes`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

__all__ = ["GROUPS", "main"]

GROUPS = ("layers", "step", "epoch")


def group_module(group: str):
    """The module measuring ``group``: it has ``tasks``, ``measure_minicnn``, ``measure_torch``."""
    from benchmarks import epoch, layers, step

    modules = {"layers": layers, "step": step, "epoch": epoch}
    if group not in modules:
        raise ValueError(f"benchmarks.worker: group must be one of {GROUPS}, got {group!r}")
    return modules[group]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("--framework", choices=("minicnn", "torch"), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--settings", required=True, help="Settings as JSON")
    args = parser.parse_args(argv)

    if args.framework == "torch":
        import torch  # noqa: F401  (first: its OpenMP starts from this process's environment)
    from benchmarks.machine import describe_process
    from benchmarks.settings import Settings
    from benchmarks.variants import set_threads

    # Answers go to the real stdout; anything a library prints goes to stderr instead.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    settings = Settings.from_json(args.settings)
    set_threads(args.framework, args.threads)
    answer({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("describe"):
            answer({"process": describe_process(args.framework)})
            continue
        try:
            module = group_module(request["group"])
            measure = module.measure_torch if args.framework == "torch" else module.measure_minicnn
            answer({"records": measure(request["task"], args.threads, settings)})
        except Exception:
            answer({"error": traceback.format_exc()})


if __name__ == "__main__":
    main()
