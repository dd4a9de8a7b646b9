"""``n2n evaluate``: PSNR on validation, test and real-noise sets, beside the baselines."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..device import resolve_device, resolve_precision
from .common import (MODELS, CliError, Formatter, add_device_option, add_ensemble_option, add_impl_option,
                     add_precision_option, ensemble_note, load_model, positive_int, sigma_list, strength_label,
                     strength_list, warn, wrap)

def cmd_evaluate(args) -> int:
    from ..baselines import BASELINES, missing_requirement
    from ..data import VAL_FILE, load_pairs
    from ..noise import input_psnr, noiseless_note
    from ..denoise import validation_psnr
    from ..psnr import psnr

    device = resolve_device(args.device)
    args.precision = resolve_precision(args.precision, device, warn("evaluate"))
    if args.baselines and missing_requirement():
        raise CliError(missing_requirement())
    if args.real:
        return _evaluate_real(args, device)
    if args.sigmas is not None or args.testset:
        return _evaluate_sweep(args, device)
    val_path = Path(args.data) / VAL_FILE
    noisy, clean = load_pairs(val_path, "val")
    model = load_model(args.impl, args.checkpoint, device, args.model, args.precision)
    target = clean.float() / 255
    noisy_db = input_psnr(noisy, clean)
    started = time.perf_counter()
    model_db = validation_psnr(model, noisy, clean, args.ensemble)
    model_seconds = time.perf_counter() - started

    source = args.checkpoint or f"committed {args.model} model"
    print(f"validation set: {val_path} ({len(noisy)} pictures of "
          f"{noisy.shape[2]}x{noisy.shape[3]})")
    print(f"model: {args.impl}, {source}{ensemble_note(args.ensemble)}")
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
    return _written(results, args.json)


def _written(results: dict, path: str | None) -> int:
    """Write ``results`` to ``path`` as JSON when one is given; the command's exit status."""
    if path:
        Path(path).write_text(json.dumps(results, indent=2) + "\n")
        print(f"numbers written to {path}")
    return 0


def _evaluate_sweep(args, device) -> int:
    """``n2n evaluate --sigmas``: the per-noise-level table on each evaluation set."""
    from ..baselines import BM3D_LABEL, bm3d, bm3d_missing, classical
    from ..data import VAL_FILE, load_clean
    from ..denoise import predict_batches
    from ..evaluation import HEADER, SIGMAS, sweep

    if args.bm3d and bm3d_missing():
        raise CliError(bm3d_missing())
    model = load_model(args.impl, args.checkpoint, device, args.model, args.precision)
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
    print(f"model: {args.impl}, {source}{ensemble_note(args.ensemble)}")
    for path in sets:
        clean = load_clean(path)
        print(f"\n{path}: {len(clean)} clean pictures of {clean.shape[2]}x{clean.shape[3]}, "
              "noise added at each sigma (0-255 scale)")
        print(HEADER)
        rows = sweep(denoisers, clean, args.sigmas or SIGMAS, subsets=subsets, log=print)
        results["sets"][str(path)] = {"n": len(clean), "rows": rows}
    return _written(results, args.json)


def _evaluate_real(args, device) -> int:
    """``n2n evaluate --real DIR``: real noisy photos against their ground truth, per camera."""
    from ..baselines import BASELINES, bm3d_missing
    from ..real import BM3D_GRID, evaluate, find_pairs, pixel_shuffled

    if args.bm3d and bm3d_missing():
        raise CliError(bm3d_missing())
    try:
        pairs = find_pairs(args.real)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    checkpoints = [args.checkpoint, *(args.also or ())]
    denoisers = {}
    for checkpoint in checkpoints:
        model = load_model(args.impl, checkpoint, device, args.model, args.precision)
        label = f"{args.impl} {checkpoint or f'committed {args.model}'}"[:43]

        def run(noisy, model=model):
            with torch.no_grad():
                return model.predict(noisy, ensemble=args.ensemble)
        denoisers[label] = run
        for strength in args.strength or ():
            denoisers[f"{label[:31]} strength {strength_label(strength)}"] = (
                lambda noisy, model=model, strength=strength: model.predict(noisy, ensemble=args.ensemble,
                                                                            strength=strength))
        if args.shuffle:
            denoisers[f"{label[:30]} shuffle {args.shuffle}x{args.shuffle}"] = pixel_shuffled(run, args.shuffle)
    if args.baselines:
        denoisers.update({label: denoiser for label, denoiser in BASELINES.values()})
    print(f"{args.real}: {len(pairs)} pairs of a real noisy picture and its ground truth"
          f"{ensemble_note(args.ensemble)}")
    results = evaluate(pairs, denoisers, bm3d_pictures=args.bm3d or 0, log=print,
                       bm3d_levels=args.bm3d_levels or BM3D_GRID)
    return _written(results, args.json)


def add_parser(commands) -> None:
    """The evaluate command."""
    evaluate = commands.add_parser(
        "evaluate", formatter_class=Formatter, help="validation PSNR of a model (and baselines)",
        description=wrap("Print the validation PSNR of the noisy input, of the model and the gain "
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
    add_impl_option(evaluate)
    add_device_option(evaluate)
    add_precision_option(evaluate)
    evaluate.add_argument("--sigmas", type=sigma_list, metavar="S,S,...", nargs="?", const=(),
                          help="per-noise-level table instead of the stored noisy pictures: noise of "
                               "each sigma (0-255 scale) is added to the clean pictures (default "
                               "levels: 5,15,25,35,50)")
    evaluate.add_argument("--testset", metavar="DIR", action="append",
                          help="also evaluate on the clean pictures of DIR (from `n2n testset`); "
                               "implies --sigmas")
    evaluate.add_argument("--bm3d", type=positive_int, metavar="N",
                          help="with --sigmas: add BM3D, told the true sigma, on the first N pictures "
                               "of each set (about 1 s a picture; needs pip install bm3d); with --real: "
                               "BM3D with a level estimated per picture and with the best fixed level "
                               "(chosen on the other half), on N pictures spread over the set "
                               "(7 runs a picture, about 20 s each on 512x512)")
    evaluate.add_argument("--bm3d-levels", type=sigma_list, metavar="S,S,...",
                          help="with --real --bm3d: the levels from which BM3D's best fixed level is chosen "
                               "(default: 5,8,11,14,18,24); a single level: BM3D at that level only")
    evaluate.add_argument("--real", metavar="DIR",
                          help="real noisy photos and their ground truth instead (PolyU's NAME_real.* "
                               "/ NAME_mean.*, or noisy/NAME.* and clean/NAME.*): whole pictures, "
                               "overall and per camera")
    evaluate.add_argument("--also", metavar="CHECKPOINT", action="append",
                          help="with --real: evaluate this checkpoint too (repeatable)")
    evaluate.add_argument("--strength", type=strength_list, metavar="S,S,...",
                          help="with --real: add each model at these strengths, numbers or auto (see n2n denoise "
                               "--strength)")
    evaluate.add_argument("--shuffle", type=positive_int, metavar="F",
                          help="with --real: add each model run on the FxF pixel-shuffled sub-images")
    evaluate.add_argument("--baselines", action="store_true",
                          help="also run scikit-image's non-local means with a noise level "
                               "estimated from each picture (needs PyWavelets)")
    add_ensemble_option(evaluate)
    evaluate.add_argument("--json", metavar="PATH", help="also write the numbers to PATH as JSON")
    evaluate.set_defaults(handler=cmd_evaluate)
