"""``n2n denoise``: pictures of any size and format, one or many."""
from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from ..device import resolve_device, resolve_precision
from .common import (EXIT_ERROR, MODELS, CliError, Formatter, add_device_option, add_impl_option,
                     add_ensemble_option, add_precision_option, ensemble_note, jpeg_quality, load_model,
                     strength_value, warn, wrap)

def cmd_denoise(args) -> int:
    from ..batch import Job, Summary, check_jobs, plan

    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device, warn("denoise"))
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
    model = load_model(args.impl, args.checkpoint, device, args.model, precision)
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
    from ..denoise import check_output

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
    from ..bitdepth import DEEP_FORMATS, encode_deep, read_deep
    from ..denoise import (LIGHT_NOISE, encode_picture, estimate_sigma, picture_format, read_alpha, read_metadata,
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
    denoised, chosen = _predict(model, picture, args, progress, job.source)
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
    smoothed = "" if chosen in (None, 1) else (f", smoothed further as a camera's noise (strength {chosen:g}; "
                                               "--strength 1 for the model's own judgement)")
    print(f"denoised {job.source} ({picture.shape[3]}x{picture.shape[2]}{bits}) into {job.output} "
          f"in {time.perf_counter() - started:.1f} s{ensemble_note(args.ensemble)}{smoothed}",
          file=sys.stderr if to_stdout else sys.stdout)
    # Said once the picture is written, so that a failure stays a one-line error.
    sigma = estimate_sigma(picture)
    if sigma < LIGHT_NOISE and model.config["arch"] == "simple":
        print(f"n2n denoise: warning: {job.source} looks lightly noisy (estimated sigma {sigma:.1f} on the "
              f"0-255 scale); the required network was trained on sigma 10-40 and may have blurred it "
              "more than it cleaned it (the deep model, the default, was trained on sigma 0-50)",
              file=sys.stderr)


def _predict(model, picture, args, progress, source):
    """``picture`` (uint8, (1, 3, H, W)) denoised as ``args`` ask, and under ``--strength auto`` the
    strength chosen for it (``None`` otherwise): the blind result first, then auto's choice on it,
    as ``predict(strength="auto")`` makes it, so that the command can say what it did. With
    ``progress``, the further smoothing, which has no bar, is announced on stderr."""
    from Miniproject_2.others.denoisers.strength import apply_strength, auto_strengths

    out = torch.empty_like(picture)
    if args.strength != "auto":
        return model.predict(picture, out=out, ensemble=args.ensemble, progress=progress,
                             strength=args.strength), None
    blind = model.predict(picture, out=torch.empty(picture.shape), ensemble=args.ensemble, progress=progress)
    chosen = float(auto_strengths(picture, blind)[0])
    if progress and chosen > 1:
        print(f"n2n denoise: {source}: its noise looks like a camera's: smoothing it further (strength "
              f"{chosen:g}, about 5 s a megapixel)", file=sys.stderr, flush=True)
    return apply_strength(picture, blind, "auto", out), chosen


def add_parser(commands) -> None:
    """The denoise command."""
    denoise = commands.add_parser(
        "denoise", formatter_class=Formatter, help="denoise pictures of any size (PNG, JPEG, WebP, TIFF...)",
        description=wrap("Denoise one picture (IN OUT), or many (-o OUTDIR): files, and folders of "
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
    denoise.add_argument("--quality", type=jpeg_quality, metavar="Q",
                         help="JPEG output quality, 1-100 (default 95), with full-resolution colour "
                              "(4:4:4); WebP is lossless unless Q is given, PNG and TIFF always; GIF is "
                              "refused. EXIF (orientation reset to 1) and the ICC profile are copied "
                              "where the format holds them")
    denoise.add_argument("--overwrite", action="store_true",
                         help="allow OUT to be IN itself, and, with -o, replace outputs that exist; "
                              "a file is replaced atomically either way (an interrupted write leaves "
                              "the old file)")
    denoise.add_argument("--strength", type=strength_value, default="auto", metavar="S",
                         help="how much to smooth, 0 to 4, or auto (default): 1 is the model's own "
                              "judgement, below 1 keeps part of the grain (0: the input), above 1 "
                              "smooths more (2 to 2.5 suits a real high-ISO photo); auto is 1.5 for a "
                              "picture whose noise looks like a camera's (light, and coarse: "
                              "correlated between neighbouring pixels), 1 for the others; a picture "
                              "without noise may pass for a camera's and lose fine detail: give 1")
    add_impl_option(denoise)
    add_device_option(denoise)
    add_precision_option(denoise)
    add_ensemble_option(denoise)
    denoise.set_defaults(handler=cmd_denoise)
