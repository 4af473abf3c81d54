"""``minicnn train``: train a network on MNIST or CIFAR with a progress bar, resumably.

Example::

    minicnn train                                            # LeNet-5, the defaults
    minicnn train --epochs 1 --limit-train 5000 --lr 0.02     # a quick look
    minicnn train --resume runs/lenet5-mnist-20261123-101500  # continue a stopped run
    minicnn train --tensorboard                               # also log for TensorBoard

Ctrl-C (SIGINT, or SIGTERM) lets the current step finish, writes a checkpoint of the steps done
so far and exits with status 130 (143 for SIGTERM), printing the command that resumes the run
where it stopped; a second Ctrl-C stops at once, keeping the last checkpoint written. A
non-finite loss stops the run (status 3) with the epoch, the step and the layer where the
NaN/Inf first appeared; ``--skip-nonfinite`` (also when resuming) skips such batches instead.

``--distributed`` trains data-parallel on the ranks of the MPI job the command runs in::

    mpiexec -n 2 minicnn train --distributed                  # or:
    mpiexec -n 2 python -m mpi4py -m minicnn train --distributed

Every rank runs this command; ``--batch-size`` is the global batch, shared out among the ranks,
so the run trains to the weights one process would. Rank 0 prints and writes the run
directory; the others are silent. Each rank runs ``cores / ranks`` kernel threads unless
``--threads`` says otherwise. A rank that raises prints one message naming it and aborts the
whole job (``MPI_Abort``); a rank that dies is reported by ``mpiexec``, which ends the job.
"""

from __future__ import annotations

import argparse
import signal
import sys

from minicnn.cli.arguments import non_negative_float, positive_float, positive_int
from minicnn.models import MODEL_NAMES
from minicnn.train.config import DATASETS, DTYPES, OPTIMIZERS, SCHEDULERS, TrainConfig

__all__ = ["add_parser", "run"]


class _DefaultsOnceFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" to an option's help unless the help already states its default
    in words, or the default is ``None`` or a flag's ``False`` (which would only print noise)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        # "is", not "in (None, False)": a default of 0 (--seed) equals False.
        if "default" in help_text or action.default is None or action.default is False:
            return help_text
        return super()._get_help_string(action)


def add_parser(subparsers) -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = subparsers.add_parser(
        "train", help="train a network on MNIST or CIFAR",
        description="Train a network on MNIST (or Fashion-MNIST, CIFAR-10, CIFAR-100), "
                    "evaluating on the test set after each epoch. Writes a run directory with "
                    "the config, per-epoch metrics and checkpoints.",
        formatter_class=_DefaultsOnceFormatter,
    )
    # The formatter shows "(default: ...)" only for options with help text.
    parser.add_argument("--model", choices=MODEL_NAMES, default=defaults.model,
                        help="the network")
    parser.add_argument("--width", type=positive_float, default=defaults.width,
                        help="multiplier of the network's hidden sizes (channels and units)")
    parser.add_argument("--dataset", choices=DATASETS, default=defaults.dataset,
                        help="the dataset")
    # None, not the default, so that --resume can tell "extend the run" from "not given".
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help=f"epochs to train (default: {defaults.epochs})")
    parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size,
                        help="images per training step")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer,
                        help="the optimiser (sgd uses Nesterov momentum when --momentum > 0)")
    parser.add_argument("--lr", type=positive_float, default=defaults.lr,
                        help="learning rate (the peak rate with --scheduler onecycle)")
    parser.add_argument("--momentum", type=non_negative_float, default=defaults.momentum,
                        help="momentum of sgd and rmsprop")
    parser.add_argument("--weight-decay", type=non_negative_float,
                        default=defaults.weight_decay, help="L2 penalty (decoupled for adamw)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default=defaults.scheduler,
                        help="learning-rate schedule over the run")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of the initial weights and the data order")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the dataset's files (MNIST's IDX files; CIFAR's "
                             "extracted folder or its .tar.gz), used offline, as it is; "
                             "default: download into the cache ($MINICNN_CACHE_DIR or "
                             "~/.cache/minicnn)")
    # None, not a default: the dataset decides unless the option is given.
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                        help="random augmentation of the training images: random crops and "
                             "flips for CIFAR (on unless --no-augment), a small random affine "
                             "warp for digits (off unless --augment); None: the dataset's default")
    parser.add_argument("--out-dir", default=defaults.out_dir,
                        help="where the run directory is created")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads for BLAS and Numba (default: all cores)")
    parser.add_argument("--limit-train", type=positive_int, default=None, metavar="N",
                        help="train on the first N training images (default: all)")
    parser.add_argument("--limit-test", type=positive_int, default=None, metavar="N",
                        help="evaluate on the first N test images (default: all)")
    parser.add_argument("--dtype", choices=DTYPES, default=defaults.dtype,
                        help="floating-point type of the weights and batches")
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue the run in RUN_DIR from its last checkpoint (its saved "
                             "config is used; --epochs may extend it)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also write TensorBoard event files (scalars, histograms, filters, "
                             "feature maps, mistakes) to RUN_DIR/tensorboard")
    parser.add_argument("--checkpoint-every", type=positive_int, default=None, metavar="STEPS",
                        help="also write the resumable checkpoint every STEPS training steps "
                             "(default: after each epoch only)")
    parser.add_argument("--skip-nonfinite", action="store_true", default=None,
                        help="skip a batch whose loss is NaN/Inf (with a warning) instead of "
                             "stopping the run; also accepted with --resume")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel training on the ranks of the MPI job this runs in "
                             "(mpiexec -n N minicnn train --distributed; the mpi extra); "
                             "--batch-size is the global batch")
    return parser


class _StopRequest:
    """Turns the first Ctrl-C (or SIGTERM) into a request to stop after the current step.

    The handler only sets a flag, which the training loop reads between steps: a signal that
    arrived mid-step would otherwise leave the weights half-updated and nothing resumable. A
    second Ctrl-C raises KeyboardInterrupt at once, for a step that never ends.
    """

    def __init__(self):
        self.signal: int | None = None
        self._previous = {}

    def __call__(self) -> bool:
        return self.signal is not None

    def _handle(self, signum, frame) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> _StopRequest:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        model=args.model, width=args.width, dataset=args.dataset,
        epochs=args.epochs if args.epochs is not None else TrainConfig.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, weight_decay=args.weight_decay, scheduler=args.scheduler,
        seed=args.seed, data_dir=args.data_dir, out_dir=args.out_dir, threads=args.threads,
        limit_train=args.limit_train, limit_test=args.limit_test, dtype=args.dtype,
        skip_nonfinite=bool(args.skip_nonfinite), checkpoint_every=args.checkpoint_every,
        augment=args.augment,
    )


def run(args: argparse.Namespace) -> int:
    if not args.distributed:
        return _train(args, None)
    from minicnn.distributed import init

    return _train_distributed(args, init())


def _train_distributed(args: argparse.Namespace, communicator) -> int:
    """:func:`_train` on every rank: rank 0 prints, the others are silent; an exception on
    any rank ends the whole job with a message naming the rank."""
    import contextlib
    import os
    import traceback

    from minicnn.cli import file_fault

    quiet = contextlib.ExitStack()
    if not communicator.is_root:
        sink = quiet.enter_context(open(os.devnull, "w"))  # noqa: SIM115 - closed by the stack
        quiet.enter_context(contextlib.redirect_stdout(sink))
        quiet.enter_context(contextlib.redirect_stderr(sink))
    try:
        with quiet:
            return _train(args, communicator)
    except Exception as error:
        # The other ranks wait in a collective operation that this rank will never join:
        # only ending the job stops them.
        reason = " ".join(str(error).split())
        detail = "" if file_fault(error) else traceback.format_exc()
        print(f"{detail}minicnn train: rank {communicator.rank} of {communicator.size} failed: "
              f"{type(error).__name__}: {reason}; ending the job", file=sys.__stderr__)
        communicator.abort(1)
        raise  # abort does not return; this keeps linters and readers sure of it


def _train(args: argparse.Namespace, communicator) -> int:
    from tqdm import tqdm

    from minicnn.data import DownloadError
    from minicnn.threads import set_num_threads
    from minicnn.train.checkpoint import CheckpointError
    from minicnn.train.loop import TrainingInterrupted
    from minicnn.train.nonfinite import NonFiniteLossError
    from minicnn.train.run_dir import RunDir
    from minicnn.train.trainer import ModelChoiceError, Trainer

    if args.resume:
        run_dir = RunDir(args.resume)

        def resumable() -> bool:
            return run_dir.checkpoint.is_file() and run_dir.config.is_file()

        if not (resumable() if communicator is None else communicator.run_on_root(resumable)):
            print(f"minicnn train: cannot resume {args.resume}: not a run directory (it needs "
                  "config.json and checkpoint.safetensors, written after each epoch)",
                  file=sys.stderr)
            return 2
        try:
            trainer = Trainer.resume(args.resume, epochs=args.epochs,
                                     skip_nonfinite=args.skip_nonfinite,
                                     communicator=communicator)
        except (CheckpointError, DownloadError, ValueError) as error:
            print(f"minicnn train: cannot resume {args.resume}: {error}", file=sys.stderr)
            return 1
    else:
        try:
            trainer = Trainer.new(_config_from_args(args), communicator=communicator)
        except DownloadError as error:
            if communicator is not None:
                raise  # perhaps this rank's alone: only ending the job frees the others
            print(f"minicnn train: {error}", file=sys.stderr)
            return 1
        except ModelChoiceError as error:  # e.g. LeNet-5 asked to read colour images
            print(f"minicnn train: {error}", file=sys.stderr)
            return 2
    config = trainer.config
    if config.threads is not None:
        set_num_threads(config.threads)
    elif communicator is not None:
        from minicnn.distributed import threads_per_rank

        set_num_threads(threads_per_rank(communicator.local_size()))
    print(f"run directory: {trainer.run_dir.path}")
    if communicator is not None:
        print(f"data-parallel on {communicator.size} ranks: {config.batch_size} images per step, "
              f"about {config.batch_size // communicator.size} per rank")
    print(trainer.model)
    logger = None
    if args.tensorboard and trainer.is_root:
        from minicnn.train.tensorboard import TensorBoardLogger

        logger = TensorBoardLogger.for_trainer(trainer)
        print(f"TensorBoard: tensorboard --logdir {logger.log_dir}")

    bar = None

    def on_step(step: int, loss: float, accuracy: float, batch_size: int) -> None:
        bar.update(batch_size)
        if step % 20 == 0:
            rate = bar.format_dict["rate"] or 0.0
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.3f}", img_s=f"{rate:,.0f}")
        if logger is not None:
            logger.on_step(step, loss, accuracy, batch_size)

    def on_epoch(report) -> None:
        bar.close()
        tqdm.write(
            f"epoch {report.epoch}/{config.epochs}  lr {report.lr:.4g}  "
            f"train loss {report.train.loss:.4f} acc {report.train.accuracy:.4f}  "
            f"test loss {report.test.loss:.4f} acc {report.test.accuracy:.4f}  "
            f"{report.train.images_per_second:,.0f} img/s"
        )
        if logger is not None:
            logger.on_epoch(report)

    resume_command = f"minicnn train --resume {trainer.run_dir.path}"
    if communicator is not None:
        resume_command = f"mpiexec -n {communicator.size} {resume_command} --distributed"
    stop = _StopRequest()
    stopped_between_epochs = False
    try:
        with stop:
            while trainer.epochs_done < config.epochs:
                # Every rank must agree, or one would wait for the others' next step forever.
                stopped_between_epochs = trainer.stop_agreed(stop())
                if stopped_between_epochs:
                    break
                bar = tqdm(total=len(trainer.train_loader.dataset), unit="img", leave=False,
                           desc=f"epoch {trainer.epochs_done + 1}/{config.epochs}",
                           disable=args.no_progress or not trainer.is_root, file=sys.stderr,
                           initial=trainer.progress.seen)
                on_epoch(trainer.run_epoch(on_step, should_stop=stop))
    except TrainingInterrupted:
        bar.close()
        print(f"\nstopped after {trainer.progress.steps} of the {len(trainer.train_loader)} steps "
              f"of epoch {trainer.epochs_done + 1} and saved a checkpoint; continue with: "
              f"{resume_command}", file=sys.stderr)
        return 128 + (stop.signal or signal.SIGINT)
    except KeyboardInterrupt:
        # A second Ctrl-C mid-step: the last checkpoint written is intact (written atomically).
        if bar is not None:
            bar.close()
        print(f"\ninterrupted during epoch {trainer.epochs_done + 1}; the last checkpoint is "
              f"kept; continue with: {resume_command}", file=sys.stderr)
        return 130
    except NonFiniteLossError as error:
        if bar is not None:
            bar.close()
        print(f"minicnn train: {error}. Stopped; the last good checkpoint is kept in "
              f"{trainer.run_dir.path}: lower --lr in a new run, or skip such batches with: "
              f"{resume_command} --skip-nonfinite", file=sys.stderr)
        return 3
    finally:
        if logger is not None:
            logger.close()
    if stopped_between_epochs:
        # The signal came between two epochs, after the first one's checkpoint was written.
        print(f"stopped after epoch {trainer.epochs_done}; continue with: {resume_command}",
              file=sys.stderr)
        return 128 + (stop.signal or signal.SIGINT)

    metrics = trainer.run_dir.read_metrics()
    if not metrics:
        print("nothing to train: the run already finished its epochs")
        return 0
    final = metrics[-1]
    seconds = sum(record["train_seconds"] for record in metrics)
    print(f"trained {len(metrics)} epochs in {seconds:.1f} s of training; best test accuracy "
          f"{trainer.best_accuracy:.4f}; weights in {trainer.run_dir.path}")
    print(f"test accuracy: {100 * final['test_accuracy']:.2f}%")
    return 0
