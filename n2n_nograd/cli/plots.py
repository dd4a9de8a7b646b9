"""``n2n plots``: a training run's curves, redrawn."""
from .common import Formatter, wrap


def cmd_plots(args) -> int:
    from ..plots import redraw

    for path in redraw(args.run_dir):
        print(f"wrote {path}")
    return 0


def add_parser(commands) -> None:
    """The plots command."""
    plots = commands.add_parser(
        "plots", formatter_class=Formatter, help="redraw a run's loss and PSNR curves",
        description=wrap("Redraw loss.png and psnr.png of a training run from its "
                          "metrics.jsonl (examples.png needs the model and is drawn by train)."))
    plots.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `n2n train`")
    plots.set_defaults(handler=cmd_plots)
