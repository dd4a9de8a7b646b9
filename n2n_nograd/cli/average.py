"""``n2n average``: one network from several checkpoints of it, their weights averaged."""
from __future__ import annotations

from pathlib import Path

from .common import CliError, Formatter, add_impl_option, model_class_for, wrap


def cmd_average(args) -> int:
    from ..average import average_checkpoints

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise CliError(f"{out} exists: add --overwrite to replace it (atomically)")
    if not out.parent.is_dir():
        raise CliError(f"{out}: its folder {out.parent} does not exist")
    weights = None if args.weights is None else [float(w) for w in args.weights.split(",")]
    model = average_checkpoints(model_class_for(args.impl), args.checkpoints, weights)
    model.save_model(args.out)
    shares = "equal weights" if weights is None else ", ".join(f"{w:g}" for w in weights)
    print(f"wrote {args.out}: the weights of {', '.join(args.checkpoints)} averaged ({shares})")
    return 0


def add_parser(commands) -> None:
    """The average command."""
    average = commands.add_parser(
        "average", formatter_class=Formatter, help="average the weights of checkpoints of one network",
        description=wrap("Write one checkpoint whose weights are the weighted mean of those of "
                         "CHECKPOINT... (checkpoints of one network, e.g. a fine-tuned model and the one "
                         "it started from: the midpoint often does better than either on data neither "
                         "was tuned on; see docs/real-noise.md). The output keeps the last "
                         "checkpoint's configuration, optimizer state and epoch count."))
    average.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT", help="two or more checkpoints")
    average.add_argument("--out", required=True, metavar="PATH", help="the checkpoint to write")
    average.add_argument("--weights", metavar="W,W,...",
                         help="one weight a checkpoint, at least 0, summing to 1 (default: equal)")
    add_impl_option(average)
    average.add_argument("--overwrite", action="store_true", help="replace PATH if it exists")
    average.set_defaults(handler=cmd_average)
