"""``minicnn exercises``: write your own backward passes and have them checked.

Example::

    minicnn exercises init my-workbook             # the stub files, a README
    minicnn exercises check my-workbook relu       # one exercise
    minicnn exercises check my-workbook            # all of them, and the progress table

``check`` exits with status 0 when every exercise checked passed, 1 otherwise (2 for an
unknown exercise name or a missing folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minicnn.cli.arguments import non_negative_int, positive_float, positive_int

__all__ = ["add_parser", "run"]

NAME = "exercises"


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help="write your own backward passes and have them checked",
        description="A workbook of exercises: ReLU, Linear, softmax cross-entropy, im2col and "
                    "col2im, Conv2d, max and average pooling, BatchNorm, a residual block, the "
                    "SGD-with-momentum and Adam updates, and a whole LeNet-5 training step. "
                    "'init' writes the stubs into a folder of yours; 'check' tests your "
                    "functions against finite differences, minicnn's reference and PyTorch, "
                    "names the first wrong element and the classic mistake that fits it, and "
                    "trains LeNet-5 on MNIST with each function that passes.",
    )
    actions = parser.add_subparsers(dest="action", title="actions", required=True)
    init = actions.add_parser("init", help="write the exercise stubs into DIR",
                              description="Write the exercise stubs and a README into DIR "
                                          "(created if needed). Existing files are never "
                                          "overwritten: delete one to get its stub back.")
    init.add_argument("directory", metavar="DIR", help="the workbook's folder")

    check = actions.add_parser(
        "check", help="check your functions in DIR",
        description="Check the exercises of the workbook in DIR (all, or the NAMEs given), "
                    "print what is wrong in each, and a progress table.")
    check.add_argument("directory", metavar="DIR", help="the workbook's folder")
    check.add_argument("names", metavar="NAME", nargs="*",
                       help="exercises to check (default: all), e.g. relu conv2d")
    check.add_argument("--seed", type=int, default=0,
                       help="seed of the random cases, the weights and the batches (default: 0)")
    check.add_argument("--train-steps", type=non_negative_int, default=300,
                       help="LeNet-5 training steps for an exercise that passes, 0 for none "
                            "(default: 300)")
    check.add_argument("--no-train", action="store_true",
                       help="skip the LeNet-5 stage (as --train-steps 0)")
    check.add_argument("--batch-size", type=positive_int, default=32,
                       help="images per training step (default: 32)")
    check.add_argument("--time-budget", type=positive_float, default=120.0,
                       help="seconds of training per exercise at most (a slow function "
                            "trains for fewer steps; default: 120)")
    check.add_argument("--data-dir", default=None,
                       help="folder with the four MNIST IDX files (default: $MINICNN_MNIST_DIR, "
                            "else the cache, downloading once)")
    check.add_argument("--no-torch", action="store_true",
                       help="skip the comparison with PyTorch even when it is installed")
    check.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    from minicnn.exercises import (
        EXERCISES,
        TrainingSettings,
        check_workbook,
        format_results,
        init_workbook,
    )

    if args.action == "init":
        try:
            written, kept = init_workbook(args.directory)
        except ValueError as error:
            print(f"minicnn exercises init: {error}", file=sys.stderr)
            return 2
        folder = Path(args.directory)
        print(f"wrote {len(written)} file(s) into {folder}"
              + (f"; kept {len(kept)} already there: {', '.join(p.name for p in kept)}"
                 if kept else ""))
        print(f"start with {folder / (EXERCISES[0].name + '.py')}, then run: "
              f"minicnn exercises check {folder} {EXERCISES[0].name}")
        return 0

    known = [exercise.name for exercise in EXERCISES]
    unknown = [name for name in args.names if name not in known]
    if unknown:
        print(f"minicnn exercises check: unknown exercise {', '.join(map(repr, unknown))}; "
              f"choose from {', '.join(known)}", file=sys.stderr)
        return 2
    if not Path(args.directory).is_dir():
        print(f"minicnn exercises check: {args.directory} is not a folder; create a workbook "
              f"with: minicnn exercises init {args.directory}", file=sys.stderr)
        return 2
    steps = 0 if args.no_train else args.train_steps
    training = TrainingSettings(steps=steps, batch_size=args.batch_size,
                                time_budget=args.time_budget, data_dir=args.data_dir,
                                progress=not args.no_progress)
    results = check_workbook(args.directory, args.names or None, seed=args.seed,
                             training=training, use_torch=not args.no_torch, out=sys.stdout)
    print()
    print(format_results(results))
    return 0 if all(result.passed for result in results) else 1
