"""Peak resident memory of a LeNet-5 MNIST training run, one fresh process per contestant.

The child imports its framework, loads MNIST's training set (uint8, 47 MB), builds LeNet-5
and trains one epoch at batch 64 (minicnn through ``DataLoader`` and ``train_epoch``, PyTorch
through the same loop as :mod:`benchmarks.epoch`), then reads its high-water mark: ``VmHWM``
in ``/proc/self/status`` (Linux), else ``resource.getrusage`` 's ``ru_maxrss``. The process's
whole footprint counts, interpreter and libraries included (Numba and LLVM for the kernels,
libtorch for PyTorch): that is what a user's machine has to hold. The NumPy reference trains
on ``reference_memory_images`` images only (its memory peaks within the first steps; the
record says so). Numba's kernels come from its default cache, warmed first by a short
untimed run: compiling them once (LLVM) is a one-off cost of the first run on a machine, which
the start-up benchmark reports, not the footprint of training.

Target (issue 4): under 250 MB for the kernels.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

__all__ = ["peak_rss_megabytes", "row_ids", "run"]

GROUP = "memory"
NAME = "peak RSS"
PHASE = "LeNet-5 MNIST training"
BATCH = 64
MEGABYTE = 1024 * 1024


def row_ids(settings) -> list[str]:
    from benchmarks.records import row_id

    return [row_id(GROUP, NAME, PHASE, max(settings.threads))]


def _proc_status_kilobytes(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def peak_rss_megabytes() -> float:
    """This process's peak resident set size so far, in MiB."""
    high_water = _proc_status_kilobytes("VmHWM")
    if high_water is not None:
        return high_water * 1024 / MEGABYTE
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    return max_rss / MEGABYTE if sys.platform == "darwin" else max_rss * 1024 / MEGABYTE


def current_rss_megabytes() -> float | None:
    resident = _proc_status_kilobytes("VmRSS")
    return None if resident is None else resident * 1024 / MEGABYTE


def run(settings, keep_openblas_env: bool = False) -> list[dict]:
    """The peak-memory row for each contestant, at the largest thread count of ``settings``."""
    from benchmarks.data import MNIST_MISSING, find_mnist
    from benchmarks.processes import ChildFailedError, child_env, run_child
    from benchmarks.records import measured, unavailable
    from benchmarks.variants import KERNELS_MISSING, kernel_switch

    threads = max(settings.threads)
    records = []
    for variant in ("torch", "reference", "kernels"):
        images = (settings.reference_memory_images if variant == "reference"
                  else settings.memory_images)
        description = f"one epoch of {images or 'all'} MNIST images at batch {BATCH}"
        if find_mnist() is None:
            records.append(unavailable(GROUP, NAME, PHASE, threads, variant, MNIST_MISSING,
                                       description))
            continue
        if variant == "kernels" and kernel_switch() is None:
            records.append(unavailable(GROUP, NAME, PHASE, threads, variant, KERNELS_MISSING,
                                       description))
            continue
        framework = "torch" if variant == "torch" else "minicnn"
        args = ["--variant", variant, "--threads", str(threads)]
        if images is not None:
            args += ["--images", str(images)]
        env = child_env(framework, keep_openblas_env=keep_openblas_env)
        try:
            if variant == "kernels":  # fills Numba's cache if it is cold (see the docstring)
                warmup_args = ["--variant", variant, "--threads", str(threads), "--images", "64"]
                run_child("benchmarks.memory", warmup_args, env)
            result = run_child("benchmarks.memory", args, env)
        except ChildFailedError as error:
            if variant != "kernels":
                raise
            first_line = str(error).splitlines()[0]
            records.append(unavailable(GROUP, NAME, PHASE, threads, variant,
                                       f"kernels failed: {first_line}"[:200], description))
            continue
        records.append(measured(GROUP, NAME, PHASE, threads, variant,
                                value=result["peak_megabytes"], unit="MB",
                                description=description, **result))
    return records


def _child(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--variant", choices=("torch", "reference", "kernels"), required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.variant == "torch":
        import torch
    else:
        import minicnn  # noqa: F401
    from benchmarks.data import minicnn_mnist, torch_mnist
    from benchmarks.training import MinicnnTrainer, TorchTrainer
    from benchmarks.variants import minicnn_variant, set_threads

    framework = "torch" if args.variant == "torch" else "minicnn"
    set_threads(framework, args.threads)
    after_import = current_rss_megabytes()
    if args.variant == "torch":
        from benchmarks.epoch import torch_train_epoch

        images, labels = torch_mnist(args.images)
        trainer = TorchTrainer()
        trained = torch_train_epoch(trainer, images, labels, BATCH,
                                    torch.Generator().manual_seed(0))
    else:
        from minicnn.data.dataloader import DataLoader
        from minicnn.train.loop import train_epoch

        with minicnn_variant(args.variant):
            dataset = minicnn_mnist(args.images)
            trainer = MinicnnTrainer()
            loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, generator=0)
            trained = train_epoch(trainer.model, loader, trainer.loss_fn,
                                  trainer.optimizer).images
    result = {"peak_megabytes": peak_rss_megabytes(), "rss_after_import_megabytes": after_import,
              "images_trained": trained}
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    _child()
