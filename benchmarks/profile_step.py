"""Where a LeNet-5 training step spends its time: cProfile over many steps, top functions.

Not part of the timed suite (a profiler slows Python-level code); a tool for the analysis in
``RESULTS.md`` when a target is missed::

    python -m benchmarks.profile_step --variant kernels --batch 64 --threads 2 --steps 200

It runs in the current process, so start it with the environment the suite gives minicnn's
workers (without ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE``) to profile the same BLAS kernel.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats

__all__ = ["main", "profile_steps"]


def profile_steps(variant: str, batch: int, threads: int, steps: int, top: int = 15) -> str:
    """The ``top`` functions by own time over ``steps`` training steps, as pstats prints them."""
    from benchmarks.training import MinicnnTrainer, TorchTrainer, random_batch
    from benchmarks.variants import minicnn_variant, set_threads

    framework = "torch" if variant == "torch" else "minicnn"
    set_threads(framework, threads)
    profiler = cProfile.Profile()
    if variant == "torch":
        trainer = TorchTrainer()
        images, labels = trainer.prepare(*random_batch(batch))
        for _ in range(5):  # warm-up, not profiled
            trainer.step(images, labels)
        profiler.runcall(lambda: [trainer.step(images, labels) for _ in range(steps)])
    else:
        with minicnn_variant(variant):
            trainer = MinicnnTrainer()
            images, labels = trainer.prepare(*random_batch(batch))
            for _ in range(5):  # warm-up (and JIT), not profiled
                trainer.step(images, labels)
            profiler.runcall(lambda: [trainer.step(images, labels) for _ in range(steps)])
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_step")
    parser.add_argument("--variant", choices=("torch", "reference", "kernels"),
                        default="kernels")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(profile_steps(args.variant, args.batch, args.threads, args.steps, args.top))


if __name__ == "__main__":
    main()
