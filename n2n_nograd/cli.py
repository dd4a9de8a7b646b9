"""The ``n2n`` command line (also ``python -m n2n_nograd``)."""

from __future__ import annotations

import argparse
import importlib
import io
import json
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import torch
from PIL import Image

from . import __version__
from .camera import NOISE_KINDS
from .device import CHOICES as DEVICE_CHOICES, PRECISION_CHOICES, resolve_device, resolve_precision

IMPLEMENTATIONS = {"nograd": "Miniproject_2.model", "torch": "Miniproject_1.model"}

# Exit statuses, one per kind of failure (documented in `n2n --help` and the README).
EXIT_DIVERGED = 1
EXIT_ERROR = 2
EXIT_IO = 3
EXIT_COLLAPSED = 4
EXIT_INTERRUPTED = 130
EXIT_STATUSES = """\
exit statuses:
  0    success
  1    train: the loss or the weights stopped being finite (the checkpoint keeps
       the last finished epoch)
  2    bad arguments, input files or checkpoints (a one-line message says which)
  3    a file could not be read or written (disk full, permissions, ...)
  4    train: the model collapsed (validation PSNR fell far below its best and
       below the noisy input's)
  130  interrupted (Ctrl-C)
"""

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


def _channels(text: str) -> tuple[int, ...]:
    try:
        return tuple(_positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive ints, got {text!r}") from None


def _seed(text: str) -> int:
    from Miniproject_2.others.plumbing.config import SEEDS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value not in SEEDS:
        raise argparse.ArgumentTypeError(f"must be in [-2**63, 2**64), got {value}")
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
#: with learning rate 0.01 and batch 10.  "deep" is the U-Net (``Model(arch="deep")``).
PRESETS = {
    "default": {},
    "deep": {"arch": "deep"},
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


#: ``--model`` names for the committed networks (``arch`` of the models); camera is the deep
#: network fine-tuned on a camera's noise (Miniproject_2's CAMERA_CHECKPOINT); auto is the
#: camera model, or the deep one for pictures whose noise is white (n2n_nograd/route.py).
MODELS = {"required": "simple", "deep": "deep", "camera": "deep", "auto": "deep"}


def _load_model(impl: str, checkpoint: str | None, device: str, model: str = "required", precision: str = "fp32"):
    """A model computing in ``precision`` with the weights of ``checkpoint``, or the committed
    pretrained ones of ``model`` (a :data:`MODELS` name; a checkpoint names its own network,
    and is used alone under auto)."""
    name = model
    if name == "auto" and checkpoint is None:
        from .route import Router
        return Router(*(_load_model(impl, None, device, kind, precision) for kind in ("camera", "deep")))
    model = model_class_for(impl)(device=device, arch=MODELS[name], precision=precision)
    if checkpoint is None and name == "camera":
        if impl != "nograd":
            raise CliError("the camera model is trained with the autograd-free framework only: "
                           "use --impl nograd, or --model deep")
        checkpoint = importlib.import_module("Miniproject_2.model").CAMERA_CHECKPOINT
    try:
        if checkpoint is None:
            model.load_pretrained_model()
        else:
            model.load_model(checkpoint)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    return model


# --- commands -------------------------------------------------------------

def cmd_photos(args) -> int:
    from .photos import fetch

    for role, paths in fetch(args.out, log=print).items():
        print(f"{role}: {len(paths)} photos in {Path(args.out) / role}")
    return 0


def cmd_data(args) -> int:
    from .data import TRAIN_CLEAN_FILE, TRAIN_FILE, VAL_FILE, build

    report = build(args.out, photos=args.photos, n_train=args.n_train, n_val=args.n_val,
                   size=args.size, seed=args.seed, extra_train=args.train_photos or (),
                   sigma_range=args.sigma_range, augment=args.augment or (),
                   unclipped_targets=args.unclipped_targets, fresh_noise=args.fresh_noise,
                   noise=args.noise, log=print)
    _print_skipped(report, args.size)
    train_file = (f"{TRAIN_CLEAN_FILE} ({report.n_train} clean pictures)" if args.fresh_noise
                  else f"{TRAIN_FILE} ({report.n_train} noisy pairs)")
    print(f"wrote {Path(args.out) / train_file} and "
          f"{Path(args.out) / VAL_FILE} ({report.n_val} noisy/clean pairs), "
          f"{args.size}x{args.size}, in {report.seconds:.1f} s")
    return 0


def _print_skipped(report, size: int) -> None:
    for path in report.skipped_photos:
        print(f"skipped {path}: its short side is below {size} px")
    for line in report.duplicate_photos:
        print(f"skipped {line}")


def cmd_testset(args) -> int:
    from .data import TEST_FILE, build_testset

    report = build_testset(args.out, args.photos, n=args.n, size=args.size, seed=args.seed, log=print)
    _print_skipped(report, args.size)
    print(f"wrote {Path(args.out) / TEST_FILE} ({report.n} clean pictures of {args.size}x{args.size} "
          f"from {len(report.photos)} photos) in {report.seconds:.1f} s")
    return 0


def cmd_train(args) -> int:
    from . import distributed
    from .training import run_training

    out = args.out or f"runs/{args.impl or 'nograd'}"
    options = dict(PRESETS[args.preset])
    given = {"optimizer": args.optimizer, "lr": args.lr, "batch_size": args.batch_size,
             "channels": args.channels, "skip": args.skip}
    options.update({key: value for key, value in given.items() if value is not None})
    device = resolve_device(args.device)
    parallel = None
    if distributed.launched_by_torchrun():
        parallel, device = distributed.start(device)
    options.update({"seed": args.seed, "device": device,
                    "precision": args.precision and resolve_precision(args.precision, device, _warn("train"))})
    if device.startswith("cuda"):
        # TF32 matrix products, as torch's cuDNN convolutions (the twin's) use by default,
        # so that both implementations multiply at the same precision (what the committed
        # deep models were trained with; NVIDIA_TF32_OVERRIDE=0 turns TF32 off for both).
        torch.backends.cuda.matmul.allow_tf32 = True
        # bf16 products summed in float32 (cuBLAS may otherwise sum split-K parts in bf16).
        torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    lead = parallel is None or parallel.lead
    try:
        outcome = run_training(model_class_for, args.impl, out, args.data, args.epochs, options,
                               subset=args.subset, resume=args.resume, init=args.init,
                               log=print if lead else _quiet, parallel=parallel,
                               time_limit=None if args.time_limit is None else 60 * args.time_limit)
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
    return {"interrupted": EXIT_INTERRUPTED, "collapsed": EXIT_COLLAPSED}.get(outcome.status, EXIT_DIVERGED)


def _quiet(message: str) -> None:
    """The log of a torchrun process other than the lead: its lines would repeat the lead's."""


def cmd_evaluate(args) -> int:
    from .baselines import BASELINES, missing_requirement
    from .data import VAL_FILE, input_psnr, load_pairs, noiseless_note
    from .denoise import validation_psnr
    from .psnr import psnr

    device = resolve_device(args.device)
    args.precision = resolve_precision(args.precision, device, _warn("evaluate"))
    if args.baselines and missing_requirement():
        raise CliError(missing_requirement())
    if args.real:
        return _evaluate_real(args, device)
    if args.sigmas is not None or args.testset:
        return _evaluate_sweep(args, device)
    val_path = Path(args.data) / VAL_FILE
    noisy, clean = load_pairs(val_path, "val")
    model = _load_model(args.impl, args.checkpoint, device, args.model, args.precision)
    target = clean.float() / 255
    noisy_db = input_psnr(noisy, clean)
    started = time.perf_counter()
    model_db = validation_psnr(model, noisy, clean, args.ensemble)
    model_seconds = time.perf_counter() - started

    source = args.checkpoint or f"committed {args.model} model"
    print(f"validation set: {val_path} ({len(noisy)} pictures of "
          f"{noisy.shape[2]}x{noisy.shape[3]})")
    print(f"model: {args.impl}, {source}{_ensemble_note(args.ensemble)}")
    print(f"{'noisy input':<46}{noisy_db:6.2f} dB{noiseless_note(noisy, clean)}")
    print(f"{'model':<46}{model_db:6.2f} dB   gain {model_db - noisy_db:+.2f} dB   "
          f"{model_seconds:.1f} s")
    results = {"data": str(val_path), "n_val": len(noisy), "impl": args.impl, "checkpoint": source,
               "ensemble": args.ensemble,
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


def _evaluate_sweep(args, device) -> int:
    """``n2n evaluate --sigmas``: the per-noise-level table on each evaluation set."""
    from .baselines import BM3D_LABEL, bm3d, bm3d_missing, classical
    from .data import VAL_FILE, load_clean
    from .denoise import predict_batches
    from .evaluation import HEADER, SIGMAS, sweep

    if args.bm3d and bm3d_missing():
        raise CliError(bm3d_missing())
    model = _load_model(args.impl, args.checkpoint, device, args.model, args.precision)
    source = args.checkpoint or f"committed {args.model} model"
    denoisers = {f"model ({args.impl})": lambda noisy, sigma: predict_batches(model, noisy, ensemble=args.ensemble)}
    if args.baselines:
        denoisers.update(classical(with_bm3d=False))
    subsets = {}
    if args.bm3d:
        denoisers[BM3D_LABEL] = bm3d
        subsets[BM3D_LABEL] = args.bm3d
    sets = [Path(args.data) / VAL_FILE, *(Path(t) for t in args.testset or ())]
    results = {"impl": args.impl, "checkpoint": source, "ensemble": args.ensemble, "sets": {}}
    print(f"model: {args.impl}, {source}{_ensemble_note(args.ensemble)}")
    for path in sets:
        clean = load_clean(path)
        print(f"\n{path}: {len(clean)} clean pictures of {clean.shape[2]}x{clean.shape[3]}, "
              "noise added at each sigma (0-255 scale)")
        print(HEADER)
        rows = sweep(denoisers, clean, args.sigmas or SIGMAS, subsets=subsets, log=print)
        results["sets"][str(path)] = {"n": len(clean), "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"numbers written to {args.json}")
    return 0


def _evaluate_real(args, device) -> int:
    """``n2n evaluate --real DIR``: real noisy photos against their ground truth, per camera."""
    from .baselines import BASELINES, bm3d_missing
    from .real import evaluate, find_pairs, pixel_shuffled

    if args.bm3d and bm3d_missing():
        raise CliError(bm3d_missing())
    try:
        pairs = find_pairs(args.real)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    checkpoints = [args.checkpoint, *(args.also or ())]
    denoisers = {}
    for checkpoint in checkpoints:
        model = _load_model(args.impl, checkpoint, device, args.model, args.precision)
        label = f"{args.impl} {checkpoint or f'committed {args.model}'}"[:43]

        def run(noisy, model=model):
            with torch.no_grad():
                return model.predict(noisy, ensemble=args.ensemble)
        denoisers[label] = run
        for strength in args.strength or ():
            denoisers[f"{label[:31]} strength {strength:g}"] = (
                lambda noisy, model=model, strength=strength: model.predict(noisy, ensemble=args.ensemble,
                                                                            strength=strength))
        if args.shuffle:
            denoisers[f"{label[:30]} shuffle {args.shuffle}x{args.shuffle}"] = pixel_shuffled(run, args.shuffle)
    if args.baselines:
        denoisers.update({label: denoiser for label, denoiser in BASELINES.values()})
    print(f"{args.real}: {len(pairs)} pairs of a real noisy picture and its ground truth"
          f"{_ensemble_note(args.ensemble)}")
    results = evaluate(pairs, denoisers, bm3d_pictures=args.bm3d or 0, log=print)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"numbers written to {args.json}")
    return 0


def cmd_denoise(args) -> int:
    from .batch import Job, Summary, check_jobs, plan

    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device, _warn("denoise"))
    single = args.out_dir is None
    if single:
        if len(args.paths) != 2:
            raise CliError(f"give IN OUT for one picture, or -o OUTDIR for {len(args.paths)} pictures or "
                           "folders (see n2n denoise --help)")
        source, output = args.paths
        _check_single(source, output, args.overwrite)
        jobs, skipped = [Job(source, output)], []
    else:
        if "-" in args.paths:
            raise CliError("- (standard input) takes one picture: n2n denoise - OUT")
        jobs, skipped = check_jobs(plan(args.paths, args.out_dir, args.name, args.recursive), args.overwrite,
                                   args.resume)
    model = _load_model(args.impl, args.checkpoint, device, args.model, precision)
    progress = False if args.quiet else (True if sys.stderr.isatty() else "lines")
    summary = Summary(skipped=skipped)
    for number, job in enumerate(jobs, 1):
        try:
            _denoise_file(job, model, args, progress, single)
            summary.done.append(job.source)
        except (ValueError, OSError) as exc:
            if single:
                raise
            summary.failed.append((job.source, str(exc)))
            print(f"n2n denoise: failed {job.source}: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            if not single:
                print(f"n2n denoise: interrupted at picture {number} of {len(jobs)}; the outputs written are "
                      "whole (add --resume to skip them)", file=sys.stderr)
            raise
    if not single:
        print("\n".join(summary.lines()), file=sys.stderr if summary.failed else sys.stdout)
    return EXIT_ERROR if summary.failed else 0


def _check_single(source: str, output: str, overwrite: bool) -> None:
    """The checks of ``n2n denoise IN OUT`` that need no work, ``-`` standing for a pipe."""
    from .denoise import check_output

    if source != "-" and Path(source).is_dir():
        raise CliError(f"{source} is a folder: give -o OUTDIR to denoise the pictures in it")
    if source != "-" and not Path(source).is_file():
        raise CliError(f"{source}: no such file")
    if output != "-":
        check_output(source, output, overwrite)


def _denoise_file(job, model, args, progress, single: bool) -> None:
    """Read, denoise and write one picture of ``n2n denoise``; one line on what was done.
    A picture of 16 bits per channel is denoised at its own range and written at 16 bits
    where the format holds them (``bitdepth``)."""
    from .bitdepth import DEEP_FORMATS, encode_deep, read_deep
    from .denoise import (LIGHT_NOISE, encode_picture, estimate_sigma, picture_format, read_alpha, read_metadata,
                          read_picture)
    from Miniproject_2.others.plumbing.checkpoint import write_atomic

    to_stdout = str(job.output) == "-"
    source = io.BytesIO(sys.stdin.buffer.read()) if str(job.source) == "-" else job.source
    try:
        deep = read_deep(source)
        picture = read_picture(source) if deep is None else deep.colour()
        metadata = read_metadata(source)
        alpha = read_alpha(source) if deep is None else deep.alpha8()
        with Image.open(source) as img:
            given = img.format
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{job.source}: cannot read it as a picture ({exc})") from None
    image_format = (given if given in ("PNG", "JPEG", "WEBP", "TIFF") else "PNG") if to_stdout \
        else picture_format(job.output)
    started = time.perf_counter()
    denoised = model.predict(picture, out=torch.empty_like(picture), ensemble=args.ensemble, progress=progress,
                             strength=args.strength)
    if deep is not None and image_format in DEEP_FORMATS:
        encoded, dropped = encode_deep(denoised, deep, image_format, metadata)
    else:
        encoded, dropped = encode_picture(denoised.round().clamp_(0, 255).to(torch.uint8), image_format, metadata,
                                          args.quality, alpha)
        if deep is not None:
            dropped.append(f"{deep.bits}-bit channels (written at 8 bits)")
    if to_stdout:
        sys.stdout.buffer.write(encoded)
        sys.stdout.buffer.flush()
    else:
        write_atomic(encoded, job.output)
    if dropped:
        print(f"n2n denoise: note: {image_format} files hold no {' or '.join(dropped)}; {job.source}'s "
              "was not copied", file=sys.stderr)
    # With the picture on standard output, every word goes to stderr.
    bits = "" if deep is None else f", {deep.bits} bits per channel"
    print(f"denoised {job.source} ({picture.shape[3]}x{picture.shape[2]}{bits}) into {job.output} "
          f"in {time.perf_counter() - started:.1f} s{_ensemble_note(args.ensemble)}",
          file=sys.stderr if to_stdout else sys.stdout)
    # Said once the picture is written, so that a failure stays a one-line error.
    sigma = estimate_sigma(picture)
    if sigma < LIGHT_NOISE and model.config["arch"] == "simple":
        print(f"n2n denoise: warning: {job.source} looks lightly noisy (estimated sigma {sigma:.1f} on the "
              f"0-255 scale); the required network was trained on sigma 10-40 and may have blurred it "
              "more than it cleaned it (the deep model, the default, was trained on sigma 0-50)",
              file=sys.stderr)


def _ensemble_note(ensemble: int) -> str:
    return f", mean over {ensemble} flips/rotations" if ensemble > 1 else ""


def cmd_plots(args) -> int:
    from .plots import redraw

    for path in redraw(args.run_dir):
        print(f"wrote {path}")
    return 0


def _sigmas(text: str) -> tuple[float, ...]:
    from .evaluation import parse_sigmas

    try:
        return parse_sigmas(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"--quality must be an integer from 1 to 100, got {text!r}")
    return value


def _strength(text: str) -> float:
    from Miniproject_2.others.denoisers.strength import check_strength

    try:
        return check_strength(float(text), "--strength")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _strengths(text: str) -> tuple[float, ...]:
    return tuple(_strength(part) for part in text.split(","))


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


def _add_precision_option(parser: argparse.ArgumentParser, default: str | None = "fp32") -> None:
    kept = "the run's own on --resume, else fp32" if default is None else default
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default=default,
                        help="fp32, or bf16: the convolutions' products in bfloat16, several times faster "
                             "on CPUs with AMX or AVX512-BF16 and on recent GPUs, for pictures within "
                             "0.05 dB; auto: bf16 where the hardware has bfloat16 matrix units "
                             f"(default: {kept})")


def _warn(command: str):
    """A function printing a one-line note of ``n2n command`` on stderr."""
    return lambda line: print(f"n2n {command}: note: {line}", file=sys.stderr)


def _add_ensemble_option(parser: argparse.ArgumentParser) -> None:
    from Miniproject_2.others.denoisers.ensemble import ENSEMBLES

    parser.add_argument("--ensemble", type=int, choices=ENSEMBLES, default=1, metavar="N",
                        help="average the model over N flips/rotations of each picture (1, 2, 4 or 8): "
                             "N times the time, for about 0.4 dB more with 8 on the deep model "
                             "(README, Quality; default: 1)")


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
               "Run `n2n COMMAND --help` for each command's options.\n\n" + EXIT_STATUSES)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    photos = commands.add_parser(
        "photos", formatter_class=_Formatter,
        help="install the pinned photo collections (training, unseen-source test)",
        description=_wrap("Download Debian's wallpaper packages (without installing them), check "
                          "each photograph's SHA-256 and copy it to OUT/train/PACKAGE/ (more "
                          "training photos: lomiri-wallpapers-16.04 and -20.04), OUT/train2/PACKAGE/ "
                          "(the camera model's third round: plasma-workspace-wallpapers) or "
                          "OUT/unseen/PACKAGE/ (a source used only for testing: the nature photos "
                          "of mate-backgrounds).  Needs apt-get and dpkg-deb, no root rights; "
                          "about 170 MB to download."))
    photos.add_argument("--out", metavar="DIR", default="photos", help="output folder (default: photos)")
    photos.set_defaults(handler=cmd_photos)

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
    data.add_argument("--train-photos", metavar="DIR", action="append",
                      help="add every PNG/JPEG below DIR to the training side only (repeatable); "
                           "e.g. photos/train from `n2n photos`")
    data.add_argument("--sigma-range", metavar=("LO", "HI"), nargs=2, type=float,
                      help="draw each training picture's noise sigma uniformly in [LO, HI] (0-255 "
                           "scale) instead of using the calibrated one; validation keeps it")
    data.add_argument("--augment", action="append", choices=("channels", "gain", "exposure"),
                      help="colour augmentation of the training pictures (repeatable): channels "
                           "permutes the RGB channels of each picture, gain scales each channel "
                           "by a random factor in [0.6, 1], exposure by one in [0.6, 1/0.6] that "
                           "never pushes the channel's brightest pixel past 255")
    data.add_argument("--unclipped-targets", action="store_true",
                      help="store the training targets (noisy_b) unclipped, as int16, so that the "
                           "network does not learn clipping's colour bias; not the course's format")
    data.add_argument("--fresh-noise", action="store_true",
                      help="store the clean training pictures (train_clean.pkl) instead of noisy "
                           "pairs: n2n train then draws a new pair of each picture every epoch, "
                           "sigma per picture in --sigma-range (required)")
    data.add_argument("--noise", choices=NOISE_KINDS, default="gaussian",
                      help="with --fresh-noise: the training pairs' noise. gaussian: white, one sigma "
                           "a picture (default); camera: a camera's raw shot and read noise, "
                           "demosaiced, processed back to sRGB with the camera's noise reduction and "
                           "sharpening, JPEG for 60%%; mixture: 45%% gaussian, 40%% camera, 15%% grey "
                           "pictures, JPEG for 30%% of the gaussian and grey ones and 60%% of the camera "
                           "ones; mixture-lossless: the same without JPEG. Validation gets the same")
    data.set_defaults(handler=cmd_data)

    testset = commands.add_parser(
        "testset", formatter_class=_Formatter, help="build a clean test set from a folder of photos",
        description=_wrap("Cut clean SIZE x SIZE pictures from every PNG/JPEG below PHOTOS, the way "
                          "`n2n data` does, into OUT/test_clean.pkl (uint8 (N, 3, SIZE, SIZE)).  "
                          "`n2n evaluate --testset OUT` adds noise at each level asked for.  Use "
                          "photos of a source that no training or validation photo comes from."))
    testset.add_argument("--photos", metavar="DIR", required=True,
                         help="folder of photos, e.g. photos/unseen from `n2n photos`")
    testset.add_argument("--out", metavar="DIR", default="data/unseen",
                         help="output folder (default: data/unseen)")
    testset.add_argument("--n", type=_positive_int, default=2_000, help="pictures (default: 2000)")
    testset.add_argument("--size", type=_positive_int, default=32, metavar="PX",
                         help="side of the pictures in pixels (default: 32)")
    testset.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    testset.set_defaults(handler=cmd_testset)

    train = commands.add_parser(
        "train", formatter_class=_Formatter, help="train a model, with checkpoints and metrics",
        description=_wrap("Train a denoiser one epoch at a time, measuring the validation PSNR "
                          "after each epoch (predicting 100 pictures at a time, like the "
                          "grader)."),
        epilog="files in OUT:\n"
               "  run.json        the run's settings (kept on --resume)\n"
               "  checkpoint.pkl  the model after the last epoch (or at Ctrl-C)\n"
               "  best.pkl        the model of the epoch with the best validation PSNR\n"
               "  metrics.jsonl   per epoch: epoch, lr, train_loss, val_psnr, epoch_seconds,\n"
               "                  eval_seconds, cumulative_seconds\n"
               "  loss.png, psnr.png, examples.png   drawn at the end\n\n"
               "Ctrl-C exits with status 130; checkpoint.pkl keeps the last finished epoch:\n"
               "continue with --resume.  If the loss or the weights stop being finite the run\n"
               "stops with status 1, and if the model collapses (validation PSNR 3 dB below\n"
               "its best and below the noisy input's) with status 4; either way the\n"
               "checkpoints keep finished, finite, evaluated epochs only.\n\n"
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
    train.add_argument("--lr", type=_positive_float,
                       help="learning rate (default: the model's, 0.003); with --resume, the learning "
                            "rate of the epochs to come, a step of a schedule")
    train.add_argument("--seed", type=_seed, help="seed of initial weights and shuffling (default: 0)")
    _add_device_option(train)
    _add_precision_option(train, default=None)
    train.add_argument("--out", metavar="DIR", help="run folder (default: runs/IMPL)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in OUT from its checkpoint.pkl")
    train.add_argument("--init", metavar="CHECKPOINT",
                       help="start from CHECKPOINT's weights (fine-tuning; a fresh optimizer, epoch 0): "
                            "a file of `n2n train`, or `committed` for the committed model of the preset")
    train.add_argument("--impl", choices=sorted(IMPLEMENTATIONS),
                       help="nograd: Miniproject_2, the autograd-free framework (default); "
                            "torch: Miniproject_1, its torch.nn twin")
    train.add_argument("--preset", choices=sorted(PRESETS), default="default",
                       help="default: the course's required network with its own configuration; "
                            "deep: the U-Net (Model(arch='deep')); seed: the seed report's "
                            "network and recipe (64/128 channels, 6x6 stride-2 convs, 7x7 "
                            "up-convs, SGD lr 0.01, batch 10); --lr/--batch-size/--optimizer "
                            "override it")
    train.add_argument("--optimizer", choices=("adam", "sgd"),
                       help="optimizer (default: the preset's, else the model's: adam)")
    train.add_argument("--subset", type=_positive_int, metavar="N",
                       help="train on the first N pairs only, for quick runs")
    train.add_argument("--channels", type=_channels, metavar="C,C,...",
                       help="widths: two for the simple network (default 48,96), one per level "
                            "for the deep one (default 48,48,48)")
    train.add_argument("--skip", choices=("concat", "add"),
                       help="deep network: how a level joins the one below (default: concat)")
    train.add_argument("--time-limit", type=_positive_float, metavar="MINUTES",
                       help="stop after the first epoch that ends past MINUTES of training "
                            "(continue later with --resume)")
    train.set_defaults(handler=cmd_train)

    evaluate = commands.add_parser(
        "evaluate", formatter_class=_Formatter, help="validation PSNR of a model (and baselines)",
        description=_wrap("Print the validation PSNR of the noisy input, of the model and the gain "
                          "in dB (the grader's PSNR: mean of per-picture PSNRs on [0, 1])."))
    evaluate.add_argument("--data", metavar="DIR", default="data",
                          help="folder with val_data.pkl (default: data)")
    evaluate.add_argument("--checkpoint", metavar="PATH",
                          help="a checkpoint written by train (default: the committed model of "
                               "--model and --impl, via load_pretrained_model)")
    evaluate.add_argument("--model", choices=sorted(MODELS), default="required",
                          help="committed model to evaluate: required, the course's required "
                               "network (default), deep, the blind U-Net, camera, the U-Net "
                               "fine-tuned on a camera's noise, or auto, the camera model or the "
                               "deep one where a picture's noise is white")
    evaluate.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), default="nograd",
                          help="implementation that wrote the checkpoint (default: nograd)")
    _add_device_option(evaluate)
    _add_precision_option(evaluate)
    evaluate.add_argument("--sigmas", type=_sigmas, metavar="S,S,...", nargs="?", const=(),
                          help="per-noise-level table instead of the stored noisy pictures: noise of "
                               "each sigma (0-255 scale) is added to the clean pictures (default "
                               "levels: 5,15,25,35,50)")
    evaluate.add_argument("--testset", metavar="DIR", action="append",
                          help="also evaluate on the clean pictures of DIR (from `n2n testset`); "
                               "implies --sigmas")
    evaluate.add_argument("--bm3d", type=_positive_int, metavar="N",
                          help="with --sigmas: add BM3D, told the true sigma, on the first N pictures "
                               "of each set (about 1 s a picture; needs pip install bm3d); with --real: "
                               "BM3D with a level estimated per picture and with the best fixed level "
                               "(chosen on the other half), on N pictures spread over the set "
                               "(7 runs a picture, about 20 s each on 512x512)")
    evaluate.add_argument("--real", metavar="DIR",
                          help="real noisy photos and their ground truth instead (PolyU's NAME_real.* "
                               "/ NAME_mean.*, or noisy/NAME.* and clean/NAME.*): whole pictures, "
                               "overall and per camera")
    evaluate.add_argument("--also", metavar="CHECKPOINT", action="append",
                          help="with --real: evaluate this checkpoint too (repeatable)")
    evaluate.add_argument("--strength", type=_strengths, metavar="S,S,...",
                          help="with --real: add each model at these strengths (see n2n denoise --strength)")
    evaluate.add_argument("--shuffle", type=_positive_int, metavar="F",
                          help="with --real: add each model run on the FxF pixel-shuffled sub-images")
    evaluate.add_argument("--baselines", action="store_true",
                          help="also run scikit-image's non-local means with a noise level "
                               "estimated from each picture (needs PyWavelets)")
    _add_ensemble_option(evaluate)
    evaluate.add_argument("--json", metavar="PATH", help="also write the numbers to PATH as JSON")
    evaluate.set_defaults(handler=cmd_evaluate)

    denoise = commands.add_parser(
        "denoise", formatter_class=_Formatter, help="denoise pictures of any size (PNG, JPEG, WebP, TIFF...)",
        description=_wrap("Denoise one picture (IN OUT), or many (-o OUTDIR): files, and folders of "
                          "pictures.  Grey and palette pictures are converted to RGB; alpha is kept "
                          "where the output format holds it; large pictures are processed in tiles.  "
                          "The output format follows OUT's suffix.  Every output is written to a "
                          "temporary file and renamed into place: an interrupted run leaves whole "
                          "files only.  - as IN reads standard input, as OUT writes standard output "
                          "(in the input's format)."),
        epilog="examples:\n"
               "  n2n denoise photo.jpg clean.jpg\n"
               "  n2n denoise shoot/ -o clean/ --recursive --name '{stem}_denoised{suffix}'\n"
               "  n2n denoise shoot/ -o clean/ --resume     # after an interruption: skip what is done\n"
               "  cat photo.png | n2n denoise - - > clean.png")
    denoise.add_argument("paths", nargs="+", metavar="PATH",
                         help="IN OUT for one picture; with -o, the pictures and folders to denoise")
    denoise.add_argument("-o", "--out-dir", metavar="OUTDIR",
                         help="write each picture's result into OUTDIR (created if missing), named by --name; "
                              "a folder's subfolders are kept below it")
    denoise.add_argument("--name", default="{stem}{suffix}", metavar="PATTERN",
                         help="with -o: output name from {stem}, {suffix} and {name} of the input "
                              "(default: {stem}{suffix}, the input's own name)")
    denoise.add_argument("--recursive", action="store_true", help="with -o: also the pictures in subfolders")
    denoise.add_argument("--resume", action="store_true",
                         help="with -o: skip the pictures whose output exists (a finished one is whole)")
    denoise.add_argument("--quiet", action="store_true",
                         help="no progress (default: a bar on a terminal, a line every 5 s otherwise)")
    denoise.add_argument("--checkpoint", metavar="PATH",
                         help="a checkpoint written by train (default: the committed model of --model)")
    denoise.add_argument("--model", choices=sorted(MODELS), default="auto",
                         help="committed model: auto (default), the camera model, or the deep one for "
                              "a picture whose noise is white (the camera model's residual uncorrelated "
                              "between neighbours and channels; such a picture takes both models' time); "
                              "camera, the blind U-Net fine-tuned on a camera's noise as well as white "
                              "noise; deep, the same U-Net before, trained on white noise of levels "
                              "0-50; required, the course's required network")
    denoise.add_argument("--quality", type=_quality, metavar="Q",
                         help="JPEG output quality, 1-100 (default 95), with full-resolution colour "
                              "(4:4:4); WebP is lossless unless Q is given, PNG and TIFF always; GIF is "
                              "refused. EXIF (orientation reset to 1) and the ICC profile are copied "
                              "where the format holds them")
    denoise.add_argument("--overwrite", action="store_true",
                         help="allow OUT to be IN itself, and, with -o, replace outputs that exist; "
                              "a file is replaced atomically either way (an interrupted write leaves "
                              "the old file)")
    denoise.add_argument("--strength", type=_strength, default=1.0, metavar="S",
                         help="how much to smooth, 0 to 4: 1 is the model's own judgement (default), "
                              "below 1 keeps part of the grain (0: the input), above 1 smooths more "
                              "(twice the time)")
    denoise.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), default="nograd",
                         help="implementation that wrote the checkpoint (default: nograd)")
    _add_device_option(denoise)
    _add_precision_option(denoise)
    _add_ensemble_option(denoise)
    denoise.set_defaults(handler=cmd_denoise)

    plots = commands.add_parser(
        "plots", formatter_class=_Formatter, help="redraw a run's loss and PSNR curves",
        description=_wrap("Redraw loss.png and psnr.png of a training run from its "
                          "metrics.jsonl (examples.png needs the model and is drawn by train)."))
    plots.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by `n2n train`")
    plots.set_defaults(handler=cmd_plots)
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
