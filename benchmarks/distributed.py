"""``python -m benchmarks.distributed``: data-parallel LeNet-5 training on MNIST over MPI.

Races one process with 2 kernel threads against 2 ranks of 1 thread each (``mpiexec -n 2``,
Open MPI binding each rank to a core) on the same global batch, and reports, as medians over
``--repeats`` runs taken in turns:

* images per second over ``--steps`` training steps (after ``--warmup`` steps that compile
  and warm the caches), counted on the global batch;
* the time per step rank 0 spends inside collective operations (the one Allreduce of the
  gradients, which also waits for the slower rank), and the slowest rank's;
* the time of the Allreduce alone: LeNet-5's 247 KB gradient buffer summed between the ranks
  right after a barrier (the median of 200), i.e. the wire cost without the waiting.

The figures and their reading are in ``benchmarks/RESULTS.md`` ("Data-parallel training").
``--smoke`` runs a few steps once, to prove the program works.
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

__all__ = ["main"]

CONFIGURATIONS = ((1, 2), (2, 1))  # (ranks, threads per rank)


def _worker(args: argparse.Namespace) -> None:
    """One rank's (or the only process's) timed training; rank 0 writes the record, as JSON,
    into ``args.result``."""
    import numpy as np

    from benchmarks.data import minicnn_mnist
    from minicnn.data import DataLoader, ShardedDataLoader, Subset
    from minicnn.models import LeNet5
    from minicnn.nn import CrossEntropyLoss
    from minicnn.optim import SGD
    from minicnn.threads import set_num_threads
    from minicnn.train.loop import train_epoch

    communicator = data_parallel = None
    if args.ranks > 1:
        from minicnn.distributed import DataParallel, init

        communicator = init()
    set_num_threads(args.threads)
    batch = args.batch_size
    dataset = minicnn_mnist(limit=(args.warmup + args.steps) * batch)
    model = LeNet5()
    model.features[0].needs_input_grad = False
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4,
                    nesterov=True)
    loss_fn = CrossEntropyLoss()
    if communicator is not None:
        data_parallel = DataParallel(model, communicator)
        data_parallel.broadcast_state()
        loss_fn = CrossEntropyLoss(reduction="sum")

    def loader(start: int, steps: int):
        part = Subset(dataset, np.arange(start * batch, (start + steps) * batch))
        if communicator is None:
            return DataLoader(part, batch_size=batch)
        return ShardedDataLoader(part, batch_size=batch, rank=communicator.rank,
                                 num_replicas=communicator.size)

    train_epoch(model, loader(0, args.warmup), loss_fn, optimizer, data_parallel=data_parallel)
    record = {"ranks": args.ranks, "threads": args.threads, "batch_size": batch,
              "steps": args.steps}
    if communicator is not None:
        buffer = np.zeros(data_parallel.gradient_bytes // 4 + 4, np.float32)
        alone = []
        for _ in range(200):
            communicator.allgather(np.zeros(1))  # a barrier: both ranks start together
            start = time.perf_counter()
            communicator.allreduce(buffer)
            alone.append(time.perf_counter() - start)
        communicator.allgather(np.zeros(1))
        communicator.seconds = 0.0
    start = time.perf_counter()
    train_epoch(model, loader(args.warmup, args.steps), loss_fn, optimizer,
                data_parallel=data_parallel)
    seconds = time.perf_counter() - start
    if communicator is None:
        record.update(seconds=seconds, communication=[0.0])
    else:
        shares = communicator.gather_objects((seconds, communicator.seconds))
        if not communicator.is_root:
            return
        record.update(seconds=max(share[0] for share in shares),
                      communication=[share[1] for share in shares],
                      allreduce_alone=statistics.median(alone),
                      gradient_bytes=data_parallel.gradient_bytes)
    Path(args.result).write_text(json.dumps(record))


def _run(ranks: int, threads: int, args: argparse.Namespace) -> dict:
    # The record comes back in a file, not on stdout: mpiexec gives each rank a terminal, and
    # whatever writes to it (colorama, imported by Numba when installed, resets the colours
    # at exit) would mingle with the record.
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "record.json"
        worker = [sys.executable, "-m", "benchmarks.distributed", "--worker", "--ranks",
                  str(ranks), "--threads", str(threads), "--steps", str(args.steps),
                  "--warmup", str(args.warmup), "--batch-size", str(args.batch_size),
                  "--result", str(result)]
        if ranks > 1:
            from minicnn.distributed import mpiexec_command

            worker = [*mpiexec_command(ranks), *worker]
        done = subprocess.run(worker, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode or not result.exists():
            raise RuntimeError(f"{' '.join(worker)} failed (status {done.returncode}):\n"
                               f"{done.stderr}")
        return json.loads(result.read_text())


def _summary(records: list[dict]) -> list[str]:
    first = records[0]
    steps = first["steps"]
    rates = [first["batch_size"] * steps / record["seconds"] for record in records]
    rank0 = [1e3 * record["communication"][0] / steps for record in records]
    slowest = [1e3 * max(record["communication"]) / steps for record in records]
    row = [f"{first['ranks']} x {first['threads']}",
           f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})",
           f"{1e3 * statistics.median(r['seconds'] for r in records) / steps:.2f}",
           f"{statistics.median(rank0):.2f}", f"{statistics.median(slowest):.2f}"]
    if "allreduce_alone" in first:
        row.append(f"{1e6 * statistics.median(r['allreduce_alone'] for r in records):.0f} us")
    else:
        row.append("-")
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a few steps, once")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ranks", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return {}
    if args.smoke:
        args.steps, args.warmup, args.repeats = 5, 2, 1
    results = {configuration: [] for configuration in CONFIGURATIONS}
    for _ in range(args.repeats):  # in turns, so that both see the same background load
        for ranks, threads in CONFIGURATIONS:
            results[(ranks, threads)].append(_run(ranks, threads, args))
    print(f"LeNet-5 on MNIST, global batch {args.batch_size}, {args.steps} steps after "
          f"{args.warmup} warm-up steps; medians of {args.repeats} runs (range)\n")
    print("| ranks x threads | images/s | ms per step | communication ms/step, rank 0 "
          "| slowest rank | Allreduce alone |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for records in results.values():
        print("| " + " | ".join(_summary(records)) + " |")
    return {f"{ranks}x{threads}": records for (ranks, threads), records in results.items()}


if __name__ == "__main__":
    main()
