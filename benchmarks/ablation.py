"""Ablation of the denoiser's free choices: channels, kernels, optimizer and learning rate, batch.

    python benchmarks/ablation.py [--data data] [--subset 20000] [--epochs 3] [--json results/ablation.json]

One factor at a time from a base configuration, every run from the same seed,
on the first ``--subset`` training pairs; the score is the validation PSNR
(grader's formula) after each epoch, with the training time. Results
accumulate in the JSON file: runs already there (same subset and epochs) are
skipped, so ``--only`` can add factors later.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT))

from Miniproject_2.model import Model  # noqa: E402
from n2n_nograd.data import TRAIN_FILE, VAL_FILE, load_pairs  # noqa: E402
from n2n_nograd.noise import input_psnr  # noqa: E402
from n2n_nograd.denoise import validation_psnr  # noqa: E402

#: The configuration the ablation started from (the committed one until it chose the
#: current default), the factors the variants change.
BASE = {"channels": (32, 64), "kernel_down": 2, "padding_down": 0, "kernel_up": 3, "padding_up": 1,
        "optimizer": "adam", "lr": 1e-3, "batch_size": 32}
VARIANTS = {
    "channels": [{"channels": (16, 32)}, {"channels": (48, 96)}],
    "kernels": [{"kernel_up": 5, "padding_up": 2}],
    "optimizer": [{"lr": 3e-3}, {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9}],
    "batch": [{"batch_size": 64}],
}


def run(config, train, val, epochs, seed):
    torch.manual_seed(seed)
    model = Model(**config, seed=seed)
    history = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train(*train, num_epochs=1, progress=False)
        seconds = time.perf_counter() - start
        history.append({"val_psnr": validation_psnr(model, *val), "seconds": seconds})
    return history


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "data"))
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="factors to run (default: all)")
    parser.add_argument("--threads", type=int, help="torch threads (one is the most efficient on a busy machine)")
    parser.add_argument("--json", default=str(ROOT / "results" / "ablation.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    a, b = load_pairs(Path(args.data) / TRAIN_FILE, "train")
    train = (a[:args.subset], b[:args.subset])
    val = load_pairs(Path(args.data) / VAL_FILE, "val")
    noisy_psnr = input_psnr(*val)
    path = Path(args.json)
    results = json.loads(path.read_text()) if path.exists() else {}
    if (results.get("subset"), results.get("epochs")) != (args.subset, args.epochs):
        results = {}  # runs of another length do not compare
    results.update({"base": {**BASE, "channels": list(BASE["channels"])}, "subset": args.subset,
                    "epochs": args.epochs, "noisy_psnr": noisy_psnr})
    runs = results.setdefault("runs", {})
    factors = ["base"] + [f for f in VARIANTS if not args.only or f in args.only]
    print(f"noisy input {noisy_psnr:.2f} dB; {args.subset} pairs x {args.epochs} epochs per run")
    for factor in factors:
        for change in ([{}] if factor == "base" else VARIANTS[factor]):
            config = {**BASE, **change}
            name = factor if not change else f"{factor}: " + ", ".join(f"{k}={v}" for k, v in change.items())
            if name in runs:
                continue
            history = run(config, train, val, args.epochs, args.seed)
            runs[name] = {"factor": factor, "change": {k: list(v) if isinstance(v, tuple) else v
                                                       for k, v in change.items()}, "history": history}
            best = max(h["val_psnr"] for h in history)
            print(f"{name:60} {best:6.2f} dB (+{best - noisy_psnr:.2f})  "
                  f"{sum(h['seconds'] for h in history):6.1f} s", flush=True)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
