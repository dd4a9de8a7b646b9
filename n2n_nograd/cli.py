"""The ``n2n`` command line (also ``python -m n2n_nograd``)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap
import time
from pathlib import Path

from . import __version__
from .device import CHOICES as DEVICE_CHOICES, resolve_device

IMPLEMENTATIONS = {"nograd": "Miniproject_2.model", "torch": "Miniproject_1.model"}

EXIT_ERROR = 2
EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130

NOISE_MODEL = """\
noise model:
  noisy = clip(round(clean + sigma * z), 0, 255) on the 0-255 scale, z standard
  normal and independent per pixel and channel.  Training pictures get two
  independent draws (noisy_a, noisy_b); validation pictures one, stored with
  the clean picture.  sigma is calibrated by bisection so that the validation
  input PSNR (the grader's: mean over pictures of -10 log10 MSE on [0, 1]) is
  20.7 dB, as on the course's validation set (sigma is about 24.5 with the
  default photos).

pictures:
  square crops with a side drawn log-uniformly between SIZE px and the photo's
  short side, area-downsampled to SIZE x SIZE, as the course's pictures are
  whole photos shrunk to 32x32.  Photos, never crops, are split between
  training and validation.  Default photos: the colour photographs shipped
  inside scikit-image (training: astronaut, motorcycle_left/right, rocket,
  hubble_deep_field, ihc, retina; validation: chelsea, coffee).  With --photos,
  every PNG/JPEG below DIR is used (converted to RGB) and the photos whose
  SHA-1 of relative path is smallest -- a fifth, at least one -- validate.
"""


class CliError(Exception):
    """A problem to report in one line, without a traceback."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


#: Configurations worth naming.  "seed" is the seed report's: 64/128 channels, 6x6
#: stride-2 convolutions with padding 2, 7x7 up-convolutions with padding 3, plain SGD
#: with learning rate 0.01 and batch 10.
PRESETS = {
    "default": {},
    "seed": {"channels": (64, 128), "kernel_down": 6, "padding_down": 2, "kernel_up": 7,
             "padding_up": 3, "optimizer": "sgd", "lr": 0.01, "momentum": 0.0, "batch_size": 10},
}


def model_class_for(impl: str):
    module_name = IMPLEMENTATIONS[impl]
    try:
        return importlib.import_module(module_name).Model
    except ImportError as exc:
        raise CliError(f"cannot import {module_name} ({exc}); run from the repository root "
                       "or install the package") from exc


def _load_model(impl: str, checkpoint: str | None, device: str):
    """A model with the weights of ``checkpoint``, or the committed pretrained ones."""
    model = model_class_for(impl)(device=device)
    try:
        if checkpoint is None:
            model.load_pretrained_model()
        else:
            model.load_model(checkpoint)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    return model


# --- commands -------------------------------------------------------------

def cmd_data(args) -> int:
    from .data import TRAIN_FILE, VAL_FILE, build

    report = build(args.out, photos=args.photos, n_train=args.n_train, n_val=args.n_val,
                   size=args.size, seed=args.seed, log=print)
    for path in report.skipped_photos:
        print(f"skipped {path}: its short side is below {args.size} px")
    print(f"wrote {Path(args.out) / TRAIN_FILE} ({report.n_train} noisy pairs) and "
          f"{Path(args.out) / VAL_FILE} ({report.n_val} noisy/clean pairs), "
          f"{args.size}x{args.size}, in {report.seconds:.1f} s")
    return 0


def cmd_train(args) -> int:
    from . import distributed
    from .training import run_training

    out = args.out or f"runs/{args.impl or 'nograd'}"
    options = dict(PRESETS[args.preset])
    given = {"optimizer": args.optimizer, "lr": args.lr, "batch_size": args.batch_size}
    options.update({key: value for key, value in given.items() if value is not None})
    device = resolve_device(args.device)
    parallel = None
    if distributed.launched_by_torchrun():
        parallel, device = distributed.start(device)
    options.update({"seed": args.seed, "device": device})
    lead = parallel is None or parallel.lead
    try:
        outcome = run_training(model_class_for, args.impl, out, args.data, args.epochs, options,
                               subset=args.subset, resume=args.resume,
                               log=print if lead else _quiet, parallel=parallel)
    finally:
        if parallel is not None:
            distributed.stop()
    if outcome.status == "finished":
        if lead:
            print(outcome.message)
            print("pictures: " + ", ".join(str(p) for p in outcome.pictures))
        return 0
    if lead or outcome.status == "stopped":
        print(f"n2n train: {outcome.message}", file=sys.stderr)
    return EXIT_INTERRUPTED if outcome.status == "interrupted" else EXIT_DIVERGED


def _quiet(message: str) -> None:
    """The log of a torchrun process other than the lead: its lines would repeat the lead's."""


def cmd_evaluate(args) -> int:
    from .baselines import BASELINES, missing_requirement
    from .data import VAL_FILE, input_psnr, load_pairs
    from .denoise import validation_psnr
    from .psnr import psnr

    device = resolve_device(args.device)
    if args.baselines and missing_requirement():
        raise CliError(missing_requirement())
    val_path = Path(args.data) / VAL_FILE
    noisy, clean = load_pairs(val_path, "val")
    model = _load_model(args.impl, args.checkpoint, device)
    target = clean.float() / 255
    noisy_db = input_psnr(noisy, clean)
    started = time.perf_counter()
    model_db = validation_psnr(model, noisy, clean)
    model_seconds = time.perf_counter() - started

    source = args.checkpoint or "committed pretrained model"
    print(f"validation set: {val_path} ({len(noisy)} pictures of "
          f"{noisy.shape[2]}x{noisy.shape[3]})")
    print(f"model: {args.impl}, {source}")
    print(f"{'noisy input':<46}{noisy_db:6.2f} dB")
    print(f"{'model':<46}{model_db:6.2f} dB   gain {model_db - noisy_db:+.2f} dB   "
          f"{model_seconds:.1f} s")
    results = {"data": str(val_path), "n_val": len(noisy), "impl": args.impl, "checkpoint": source,
               "noisy_psnr": noisy_db, "model_psnr": model_db, "gain_db": model_db - noisy_db,
               "model_seconds": model_seconds, "baselines": {}}
    if args.baselines:
        for name, (label, denoiser) in BASELINES.items():
            started = time.perf_counter()
            db = psnr(denoiser(noisy) / 255, target)
            seconds = time.perf_counter() - started
            print(f"{label:<46}{db:6.2f} dB   gain {db - noisy_db:+.2f} dB   {seconds:.1f} s")
            results["baselines"][name] = {"label": label, "psnr": db, "gain_db": db - noisy_db,
                                          "seconds": seconds}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"numbers written to {args.json}")
    return 0


def cmd_denoise(args) -> int:
    from .denoise import can_write, predict_tiled, read_picture, write_picture

    device = resolve_device(args.device)
    if not can_write(args.output):
        raise CliError(f"{args.output}: unknown picture format; use a .png or .jpg name")
    try:
        picture = read_picture(args.input)
    except (OSError, ValueError) as exc:
        raise CliError(f"{args.input}: cannot read it as a picture ({exc})") from exc
    model = _load_model(args.impl, args.checkpoint, device)
    started = time.perf_counter()
    write_picture(predict_tiled(model, picture), args.output)
    print(f"denoised {args.input} ({picture.shape[3]}x{picture.shape[2]}) into {args.output} "
          f"in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_plots(args) -> int:
    from .plots import redraw

    for path in redraw(args.run_dir):
        print(f"wrote {path}")
    return 0


# --- parser ---------------------------------------------------------------

def _wrap(text: str) -> str:
    """Wrap a description by hand: the raw formatter keeps the epilogs' layout but wraps nothing."""
    return textwrap.fill(" ".join(text.split()), width=79)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30)


def _add_device_option(parser: argparse.ArgumentParser) -> None:
    # Checked when the command runs, so that a bad or missing device is one error line.
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help=f"{DEVICE_CHOICES}: where to compute; auto takes the GPU when torch "
                             "sees one (default: auto)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="n2n", formatter_class=_Formatter,
        description=_wrap("Noise2Noise image denoising with a deep-learning framework written "
                          "without autograd (EPFL EE-559, Miniproject 2)."),
        epilog="a first session:\n"
               "  n2n data                      build data/ (50,000 + 1,000 pictures, no download)\n"
               "  n2n train --epochs 5          train the autograd-free model into runs/nograd/\n"
               "  n2n evaluate --baselines      PSNR of the committed model vs non-local means\n"
               "  n2n denoise in.png out.png    denoise a picture of your own\n\n"
               "Run `n2n COMMAND --help` for each command's options.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data = commands.add_parser(
        "data", formatter_class=_Formatter, help="build train_data.pkl and val_data.pkl from photos",
        description=_wrap("Build a data set in the course's format (train_data.pkl: uint8 "
                          "(noisy_a, noisy_b); val_data.pkl: uint8 (noisy, clean); each "
                          "(N, 3, SIZE, SIZE)) from photographs.  Deterministic for a given "
                          "--seed and photos."),
        epilog=NOISE_MODEL)
    data.add_argument("--photos", metavar="DIR",
                      help="folder of your own PNG/JPEG photos, searched recursively "
                           "(default: the photos bundled with scikit-image)")
    data.add_argument("--out", metavar="DIR", default="data", help="output folder (default: data)")
    data.add_argument("--n-train", type=_positive_int, default=50_000, metavar="N",
                      help="training pairs (default: 50000, as in the course)")
    data.add_argument("--n-val", type=_positive_int, default=1_000, metavar="N",
                      help="validation pairs (default: 1000, as in the course)")
    data.add_argument("--size", type=_positive_int, default=32, metavar="PX",
                      help="side of the pictures in pixels (default: 32)")
    data.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    data.set_defaults(handler=cmd_data)

    train = commands.add_parser(
        "train", formatter_class=_Formatter, help="train a model, with checkpoints and metrics",
        description=_wrap("Train a denoiser one epoch at a time, measuring the validation PSNR "
                          "after each epoch (predicting 100 pictures at a time, like the "
                          "grader)."),
        epilog="files in OUT:\n"
               "  run.json        the run's settings (kept on --resume)\n"
               "  checkpoint.pkl  the model after the last epoch (or at Ctrl-C)\n"
               "  best.pkl        the model of the epoch with the best validation PSNR\n"
               "  metrics.jsonl   per epoch: epoch, train_loss, val_psnr, epoch_seconds,\n"
               "                  eval_seconds, cumulative_seconds\n"
               "  loss.png, psnr.png, examples.png   drawn at the end\n\n"
               "Ctrl-C saves the checkpoint and exits with status 130; continue with --resume.\n"
               "If the loss becomes NaN/inf the run stops with status 1 and leaves the last\n"
               "checkpoint untouched.\n\n"
               "data-parallel, N processes each on 1/N of every batch (see the README):\n"
               "  torchrun --standalone --nproc-per-node N -m n2n_nograd train ...")
    train.add_argument("--data", metavar="DIR",
                       help="folder with train_data.pkl and val_data.pkl (default: data, or the "
                            "run's own folder with --resume)")
    train.add_argument("--epochs", type=_positive_int, default=10, metavar="N",
                       help="total epochs of the run; with --resume, training goes on until the "
                            "model has N epochs (default: 10)")
    train.add_argument("--batch-size", type=_positive_int, metavar="N",
                       help="mini-batch size (default: the model's, 32)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default: the model's, 0.001)")
    train.add_argument("--seed", type=int, help="seed of initial weights and shuffling (default: 0)")
    _add_device_option(train)
    train.add_argument("--out", metavar="DIR", help="run folder (default: runs/IMPL)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in OUT from its checkpoint.pkl")
    train.add_argument("--impl", choices=sorted(IMPLEMENTATIONS),
                       help="nograd: Miniproject_2, the autograd-free framework (default); "
                            "torch: Miniproject_1, its torch.nn twin")
    train.add_argument("--preset", choices=sorted(PRESETS), default="default",
                       help="default: the model's own configuration; seed: the seed report's "
                            "network and recipe (64/128 channels, 6x6 stride-2 convs, 7x7 "
                            "up-convs, SGD lr 0.01, batch 10); --lr/--batch-size/--optimizer "
                            "override it")
    train.add_argument("--optimizer", choices=("adam", "sgd"),
                       help="optimizer (default: the preset's, else the model's: adam)")
    train.add_argument("--subset", type=_positive_int, metavar="N",
                       help="train on the first N pairs only, for quick runs")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", formatter_class=_Formatter, help="validation PSNR of a model (and baselines)",
        description=_wrap("Print the validation PSNR of the noisy input, of the model and the gain "
                          "in dB (the grader's PSNR: mean of per-picture PSNRs on [0, 1])."))
    evaluate.add_argument("--data", metavar="DIR", default="data",
                          help="folder with val_data.pkl (default: data)")
    evaluate.add_argument("--checkpoint", metavar="PATH",
                          help="a checkpoint written by train (default: the committed bestmodel "
                               "of the implementation, via load_pretrained_model)")
    evaluate.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), default="nograd",
                          help="implementation that wrote the checkpoint (default: nograd)")
    _add_device_option(evaluate)
    evaluate.add_argument("--baselines", action="store_true",
                          help="also run scikit-image's non-local means with a noise level "
                               "estimated from each picture (needs PyWavelets)")
    evaluate.add_argument("--json", metavar="PATH", help="also write the numbers to PATH as JSON")
    evaluate.set_defaults(handler=cmd_evaluate)

    denoise = commands.add_parser(
        "denoise", formatter_class=_Formatter, help="denoise a PNG/JPEG picture of any size",
        description=_wrap("Denoise one picture.  Any PNG or JPEG works: grayscale, palette and "
                          "16-bit pictures are converted to RGB and alpha is dropped; large "
                          "pictures are processed in tiles.  The output format follows OUT's "
                          "suffix."))
    denoise.add_argument("input", metavar="IN", help="picture to denoise")
    denoise.add_argument("output", metavar="OUT", help="where to write the denoised picture")
    denoise.add_argument("--checkpoint", metavar="PATH",
                         help="a checkpoint written by train (default: the committed bestmodel)")
    denoise.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), default="nograd",
                         help="implementation that wrote the checkpoint (default: nograd)")
    _add_device_option(denoise)
    denoise.set_defaults(handler=cmd_denoise)

    plots = commands.add_parser(
        "plots", formatter_class=_Formatter, help="redraw a run's loss and PSNR curves",
        description=_wrap("Redraw loss.png and psnr.png of a training run from its "
                          "metrics.jsonl (examples.png needs the model and is drawn by train)."))
    plots.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `n2n train`")
    plots.set_defaults(handler=cmd_plots)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (CliError, ValueError, OSError) as exc:
        print(f"n2n {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"n2n {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
