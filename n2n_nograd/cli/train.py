"""``n2n train``: a training run with checkpoints, metrics and curves."""
from __future__ import annotations

import sys

import torch

from ..device import resolve_device, resolve_precision
from .common import (EXIT_COLLAPSED, EXIT_DIVERGED, EXIT_INTERRUPTED, IMPLEMENTATIONS, PRESETS, Formatter,
                     add_device_option, add_precision_option, channels_list, model_class_for, positive_float,
                     positive_int, seed_value, warn, wrap)

def cmd_train(args) -> int:
    from .. import distributed
    from ..training import run_training

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
                    "precision": args.precision and resolve_precision(args.precision, device, warn("train"))})
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


def add_parser(commands) -> None:
    """The train command."""
    train = commands.add_parser(
        "train", formatter_class=Formatter, help="train a model, with checkpoints and metrics",
        description=wrap("Train a denoiser one epoch at a time, measuring the validation PSNR "
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
    train.add_argument("--epochs", type=positive_int, default=10, metavar="N",
                       help="total epochs of the run; with --resume, training goes on until the "
                            "model has N epochs (default: 10)")
    train.add_argument("--batch-size", type=positive_int, metavar="N",
                       help="mini-batch size (default: the model's, 32)")
    train.add_argument("--lr", type=positive_float,
                       help="learning rate (default: the model's, 0.003); with --resume, the learning "
                            "rate of the epochs to come, a step of a schedule")
    train.add_argument("--seed", type=seed_value, help="seed of initial weights and shuffling (default: 0)")
    add_device_option(train)
    add_precision_option(train, default=None)
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
    train.add_argument("--subset", type=positive_int, metavar="N",
                       help="train on the first N pairs only, for quick runs")
    train.add_argument("--channels", type=channels_list, metavar="C,C,...",
                       help="widths: two for the simple network (default 48,96), one per level "
                            "for the deep one (default 48,48,48)")
    train.add_argument("--skip", choices=("concat", "add"),
                       help="deep network: how a level joins the one below (default: concat)")
    train.add_argument("--time-limit", type=positive_float, metavar="MINUTES",
                       help="stop after the first epoch that ends past MINUTES of training "
                            "(continue later with --resume)")
    train.set_defaults(handler=cmd_train)
