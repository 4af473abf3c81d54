"""``minicnn explore [RUN_DIR]``: follow a digit forward and backward through a network, in
the browser.

Example::

    minicnn explore                                   # the LeNet-5 that ships with minicnn
    minicnn explore runs/lenet5-mnist-20261123-101500 --data-dir data/mnist
    minicnn explore --port 0 --no-browser             # any free port; print the address

Starts a local web server (127.0.0.1 by default) and opens the page. MNIST, when found
(``--data-dir``, else ``$MINICNN_MNIST_DIR``, else minicnn's cache; never downloaded), gives
the page its test images and live training. Ctrl-C stops the server. The run directory is
only read; "Save" on the page writes a new run directory under ``--out-dir``.
"""

from __future__ import annotations

import argparse
import os
import sys

from minicnn.cli.arguments import non_negative_int

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explore", help="explore a network forward and backward in the browser",
        description="Start a local web page on a trained network: draw a digit (or pick a "
                    "test image) and follow it through every layer, forward and backward; "
                    "click a unit to see its arithmetic; train live. Needs the explore extra "
                    "(pip install 'minicnn-numpy[explore]').",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", nargs="?", default=None,
                        help="a run directory or weights file of minicnn train (default: the "
                             "LeNet-5 that ships with minicnn)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (another than 127.0.0.1 lets other "
                             "machines in: the explorer has no password)")
    parser.add_argument("--port", type=non_negative_int, default=None,
                        help="port to listen on; 0 for any free one (default: 8765, or any "
                             "free port if that is taken)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open the page in a browser; only print its address")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the dataset's IDX files, for test images and "
                             "live training (default: $MINICNN_MNIST_DIR for MNIST, else "
                             "minicnn's cache)")
    parser.add_argument("--out-dir", default="runs",
                        help="where the page's Save button creates new run directories")
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        from minicnn.explore.server import serve
        from minicnn.explore.session import Explorer
    except ImportError as error:
        print(f"minicnn explore: {error.name} is not installed; install the explore extra: "
              "pip install 'minicnn-numpy[explore]'", file=sys.stderr)
        return 1
    data_dir = args.data_dir or os.environ.get("MINICNN_MNIST_DIR")
    print("minicnn explore: loading the network and compiling its kernels...", flush=True)
    explorer = Explorer.from_run(args.run_dir, data_dir=data_dir, out_dir=args.out_dir)
    if explorer.data.reason:
        print(f"minicnn explore: {explorer.data.reason}", flush=True)
    try:
        serve(explorer, args.host, args.port, open_browser=not args.no_browser,
              log=lambda line: print(line, flush=True))
    except OSError as error:
        explorer.close()
        print(f"minicnn explore: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0
