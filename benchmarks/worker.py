"""A worker process: one framework, one thread count, one group of in-process benchmarks.

Started by :mod:`benchmarks.suite` as::

    python -m benchmarks.worker --framework torch --threads 2 --group layers \
        --settings '{...}' --out result.json

A PyTorch worker imports torch before anything of minicnn's, so torch's OpenMP runtime is set
up from the clean environment it was given (see :mod:`benchmarks.processes`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["GROUPS", "main"]

GROUPS = ("layers", "step", "epoch")


def _group_module(group: str):
    from benchmarks import epoch, layers, step

    return {"layers": layers, "step": step, "epoch": epoch}[group]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("--framework", choices=("minicnn", "torch"), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--group", choices=GROUPS, required=True)
    parser.add_argument("--settings", required=True, help="Settings as JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.framework == "torch":
        import torch  # noqa: F401  (first: its OpenMP starts from this process's environment)
    from benchmarks.machine import describe_process
    from benchmarks.settings import Settings
    from benchmarks.variants import set_threads

    settings = Settings.from_json(args.settings)
    set_threads(args.framework, args.threads)
    module = _group_module(args.group)
    run = module.run_torch if args.framework == "torch" else module.run_minicnn
    records = run(args.threads, settings)
    result = {"records": records, "process": describe_process(args.framework)}
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
