"""The ``n2n`` command line (also ``python -m n2n_nograd``): one module a command, each with
its handler and its ``add_parser``; the parts they share are in :mod:`.common`."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from .. import __version__
from . import average, datasets, denoise, evaluate, plots, train
from .common import (EXIT_COLLAPSED, EXIT_DIVERGED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_IO, EXIT_STATUSES, CliError,
                     Formatter, load_model, model_class_for, wrap)

__all__ = ["main", "build_parser", "load_model", "model_class_for", "CliError", "EXIT_DIVERGED", "EXIT_ERROR",
           "EXIT_IO", "EXIT_COLLAPSED", "EXIT_INTERRUPTED"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="n2n", formatter_class=Formatter,
        description=wrap("Noise2Noise image denoising with a deep-learning framework written "
                          "without autograd (EPFL EE-559, Miniproject 2)."),
        epilog="a first session:\n"
               "  n2n data                      build data/ (50,000 + 1,000 pictures, no download)\n"
               "  n2n train --epochs 5          train the autograd-free model into runs/nograd/\n"
               "  n2n evaluate --baselines      PSNR of the committed model vs non-local means\n"
               "  n2n denoise in.png out.png    denoise a picture of your own\n\n"
               "Run `n2n COMMAND --help` for each command's options.\n\n" + EXIT_STATUSES)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for command in (datasets, train, evaluate, denoise, plots, average):
        command.add_parser(commands)
    return parser


def _terminated(signum, frame):
    # SIGTERM (kill, a scheduler's stop) unwinds like Ctrl-C, so that no temporary file is
    # left behind and a training run keeps its last finished epoch.
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
    try:
        return args.handler(args)
    except (CliError, ValueError) as exc:
        print(f"n2n {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"n2n {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt:
        print(f"n2n {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
