"""``minicnn tune``: search hyperparameters with Optuna, each trial a short training run.

Example::

    minicnn tune --param lr=1e-3:0.3:log --param batch_size=32,64,128 --n-trials 20 \\
                 --epochs 2
    minicnn tune --space space.toml --workers 2              # two local worker processes
    minicnn tune --storage postgresql://user:pw@db/minicnn --study-name lenet \\
                 --param lr=1e-3:0.3:log                      # on every machine that helps

Running the same command again resumes (or, with a larger --n-trials, extends) the study.
Needs Optuna: ``pip install 'minicnn-numpy[tune]'``.
"""

from __future__ import annotations

import argparse
import sys

from minicnn.cli.arguments import non_negative_float, positive_float, positive_int
from minicnn.models import MODEL_NAMES
from minicnn.train.config import DATASETS, DTYPES, OPTIMIZERS, SCHEDULERS

__all__ = ["add_parser", "run"]

# The fixed training settings, as in `minicnn train`: (option, TrainConfig field, argparse keywords)
TRAINING_OPTIONS = [
    ("--model", "model", {"choices": MODEL_NAMES}),
    ("--width", "width", {"type": positive_float}),
    ("--dataset", "dataset", {"choices": DATASETS}),
    ("--epochs", "epochs", {"type": positive_int}),
    ("--batch-size", "batch_size", {"type": positive_int}),
    ("--optimizer", "optimizer", {"choices": OPTIMIZERS}),
    ("--lr", "lr", {"type": positive_float}),
    ("--momentum", "momentum", {"type": non_negative_float}),
    ("--weight-decay", "weight_decay", {"type": non_negative_float}),
    ("--scheduler", "scheduler", {"choices": SCHEDULERS}),
    ("--seed", "seed", {"type": int}),
    ("--limit-train", "limit_train", {"type": positive_int, "metavar": "N"}),
    ("--limit-test", "limit_test", {"type": positive_int, "metavar": "N"}),
    ("--dtype", "dtype", {"choices": DTYPES}),
    ("--augment", "augment", {"action": argparse.BooleanOptionalAction}),
]


def _param(text: str):
    from minicnn.tune.space import parse_param

    try:
        return parse_param(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "tune", help="search hyperparameters with Optuna",
        description="Search hyperparameters with Optuna: each trial is a short `minicnn train` "
                    "run that reports its test accuracy after each epoch, so bad trials are "
                    "pruned early. The study lives in a SQLite file in its folder (run the same "
                    "command again to resume it) or in a shared database (--storage), which "
                    "workers on many machines join. Writes a table of trials, the best trial's "
                    "run directory and PNG plots. Needs Optuna: pip install "
                    "'minicnn-numpy[tune]'.",
    )
    space = parser.add_argument_group("search space")
    space.add_argument("--param", action="append", type=_param, default=[],
                       metavar="NAME=SPEC",
                       help="a parameter to tune: a range LOW:HIGH, LOW:HIGH:log, or choices "
                            "A,B,C; e.g. lr=1e-4:1e-1:log, batch_size=32,64,128, "
                            "optimizer=sgd,adam. Tunable: lr, momentum, weight_decay, width, "
                            "batch_size, optimizer, scheduler, model (repeat the option)")
    space.add_argument("--space", metavar="FILE",
                       help="a TOML or JSON file with a [params] table of the same specs and "
                            "an optional [fixed] table of training settings")

    study = parser.add_argument_group("study")
    study.add_argument("--n-trials", type=positive_int, default=20, metavar="N",
                       help="finished (complete or pruned) trials to reach, counting those the "
                            "study already has (default: 20)")
    study.add_argument("--study-name", default=None, metavar="NAME",
                       help="the study's name (default: <model>-<dataset>)")
    study.add_argument("--out-dir", default="runs", metavar="DIR",
                       help="where the study folder tune-<study name> is made (default: runs)")
    study.add_argument("--study-dir", default=None, metavar="DIR",
                       help="the study folder itself (default: OUT_DIR/tune-<study name>)")
    study.add_argument("--storage", default=None, metavar="URL",
                       help="an Optuna storage URL shared by all workers, e.g. "
                            "postgresql://user:password@host/db (default: SQLite file "
                            "study.db in the study folder)")
    study.add_argument("--workers", type=positive_int, default=1, metavar="N",
                       help="worker processes on this machine, the cores split between them "
                            "(default: 1)")
    study.add_argument("--threads", type=positive_int, default=None, metavar="N",
                       help="threads per worker (default: cores / workers)")
    study.add_argument("--sampler", choices=("tpe", "random"), default="tpe",
                       help="how parameters are drawn (default: tpe)")
    study.add_argument("--pruner", choices=("median", "halving", "none"), default="median",
                       help="median: stop a trial below the median of earlier trials at the "
                            "same epoch; halving: successive halving (default: median)")
    study.add_argument("--startup-trials", type=int, default=5, metavar="N",
                       help="random trials before TPE models the space, and trials the median "
                            "pruner waits for (default: 5)")
    study.add_argument("--sampler-seed", type=int, default=0, metavar="SEED",
                       help="seed of the sampler (default: 0)")
    study.add_argument("--heartbeat", type=positive_int, default=30, metavar="SECONDS",
                       help="seconds between a worker's heartbeats; a trial silent for twice "
                            "this is failed and retried (default: 30)")
    study.add_argument("--data-dir", default=None, metavar="DIR",
                       help="folder holding the IDX files (default: download into the cache)")
    study.add_argument("--no-progress", action="store_true", help="no progress bar")
    study.add_argument("--no-plots", action="store_true", help="write no PNG plots")

    training = parser.add_argument_group(
        "fixed training settings",
        "as in `minicnn train`, shared by every trial (default: the study's, else train's "
        "defaults with --epochs 2)")
    for option, name, keywords in TRAINING_OPTIONS:
        if "choices" not in keywords:
            keywords = {"metavar": name.upper(), **keywords}
        training.add_argument(option, dest=f"fixed_{name}", default=None, **keywords)
    return parser


def _fixed_settings(args: argparse.Namespace, from_file: dict) -> dict:
    """The training settings given: the file's [fixed] table, then the options over it."""
    fixed = dict(from_file)
    for _, name, _ in TRAINING_OPTIONS:
        value = getattr(args, f"fixed_{name}")
        if value is not None:
            fixed[name] = value
    return fixed


def _study_name(args: argparse.Namespace, fixed: dict) -> str:
    if args.study_name:
        return args.study_name
    from minicnn.train.config import TrainConfig

    defaults = TrainConfig()
    return f"{fixed.get('model', defaults.model)}-{fixed.get('dataset', defaults.dataset)}"


def run(args: argparse.Namespace) -> int:
    from minicnn.tune._optuna import MissingDependencyError, import_optuna
    from minicnn.tune.space import SearchSpace, load_space_file

    try:
        optuna = import_optuna()
    except MissingDependencyError as error:
        print(f"minicnn tune: {error}", file=sys.stderr)
        return 1
    params, file_fixed = [], {}
    if args.space:
        try:
            file_space, file_fixed = load_space_file(args.space)
        except (OSError, ValueError) as error:
            print(f"minicnn tune: {error}", file=sys.stderr)
            return 2
        params.extend(file_space.params)
    params.extend(args.param)
    try:
        space = SearchSpace(params)
    except ValueError as error:
        print(f"minicnn tune: {error}", file=sys.stderr)
        return 2
    fixed = _fixed_settings(args, file_fixed)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return _run_study(args, space, fixed)


def _run_study(args: argparse.Namespace, space, fixed: dict) -> int:
    import sqlalchemy.exc

    from minicnn.data import DownloadError
    from minicnn.tune._optuna import MissingDependencyError
    from minicnn.tune.results import format_table
    from minicnn.tune.runner import default_study_dir, tune
    from minicnn.tune.storage import default_storage_url, redact_url
    from minicnn.tune.workers import WorkerError

    name = _study_name(args, fixed)
    study_dir = args.study_dir or default_study_dir(args.out_dir, name)
    storage = args.storage or default_storage_url(study_dir)

    def announce(study, study_space) -> None:
        print(f"study {study.study_name} in {redact_url(storage)}")
        print(f"searching {', '.join(str(param) for param in study_space.params)}")

    try:
        result = tune(
            space, fixed, n_trials=args.n_trials, study_name=name, study_dir=study_dir,
            storage=storage, workers=args.workers, threads=args.threads, data_dir=args.data_dir,
            sampler=args.sampler, pruner=args.pruner, startup_trials=args.startup_trials,
            seed=args.sampler_seed, heartbeat=args.heartbeat, progress=not args.no_progress,
            plots=not args.no_plots, on_study=announce)
    except KeyboardInterrupt:
        print("\ninterrupted: the finished trials are kept in the study; run the same command "
              "again to resume it", file=sys.stderr)
        return 130
    except (ValueError, MissingDependencyError) as error:
        print(f"minicnn tune: {error}", file=sys.stderr)
        return 2
    except (DownloadError, WorkerError, OSError, sqlalchemy.exc.SQLAlchemyError) as error:
        reason = " ".join(str(error).split("\n")[0].split())
        print(f"minicnn tune: {reason}", file=sys.stderr)
        return 1

    counts = result.counts
    complete, pruned = counts.get("COMPLETE", 0), counts.get("PRUNED", 0)
    print()
    print(format_table(result.rows, limit=10))
    print()
    print(f"{complete + pruned} trials finished ({complete} complete, {pruned} pruned), "
          f"{counts.get('FAIL', 0)} failed; {result.seconds:.1f} s here")
    print(f"table: {result.study_dir / 'trials.csv'}")
    written = [str(path) for path in result.plots.values() if not isinstance(path, str)]
    if written:
        print(f"plots: {', '.join(written)}")
    if result.best_accuracy is None:
        print("no trial completed yet")
        return 0
    params = "  ".join(f"{name}={value:.6g}" if isinstance(value, float) else f"{name}={value}"
                       for name, value in result.best_params.items())
    where = result.best_dir if result.best_dir is not None else (
        f"{result.study_dir / 'best.json'} (the run is on another machine)")
    print(f"best trial {result.best_trial}: {params}; its run: {where}")
    print(f"best test accuracy: {100 * result.best_accuracy:.2f}%")
    return 0

