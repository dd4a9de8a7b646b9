"""Which training data makes the required-shape network generalise: photos, noise levels, colour augmentation.

    python benchmarks/data_ablation.py [--photos photos] [--testset data/unseen] [--n-train 20000]
                                       [--epochs 3] [--json results/data_ablation.json]

Each variant builds its own training set with `n2n data`'s builder (the same
seed, so the same validation set), trains the same configuration from the same
seed, and is scored on the default validation set (its stored noisy pictures)
and on the unseen-source test set (`n2n testset`) at several noise levels:
PSNR, share of pictures made worse than their noisy input, colour shift.
Needs `n2n photos` (photos/train) and `n2n testset` (data/unseen) first.
Runs already in the JSON file (same n_train, epochs and configuration) are
skipped, so an interrupted ablation continues where it stopped.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT))

from Miniproject_2.model import Model  # noqa: E402
from n2n_nograd.data import TRAIN_FILE, VAL_FILE, build, load_clean, load_pairs  # noqa: E402
from n2n_nograd.denoise import predict_batches, validation_psnr  # noqa: E402
from n2n_nograd.training import training_pairs  # noqa: E402
from n2n_nograd.evaluation import scores, noisy_copy  # noqa: E402

#: The course-sized network (lists, not tuples, so that it compares equal to its JSON copy).
CONFIG = {"channels": [32, 64], "kernel_up": 3, "padding_up": 1, "lr": 3e-3}
SIGMAS = (5.0, 15.0, 25.0, 50.0)


def variants(photos: Path) -> dict[str, dict]:
    extra = {"extra_train": [photos / "train"]}
    return {
        "scikit-image photos, calibrated sigma (course data)": {},
        "+ Debian photos": extra,
        "+ Debian photos, sigma 15-35": {**extra, "sigma_range": (15, 35)},
        "+ Debian photos, sigma 15-35, channels": {**extra, "sigma_range": (15, 35), "augment": ["channels"]},
        "+ Debian photos, sigma 15-35, channels, gain": {**extra, "sigma_range": (15, 35),
                                                        "augment": ["channels", "gain"]},
        "+ Debian photos, sigma 5-50, channels": {**extra, "sigma_range": (5, 50), "augment": ["channels"]},
        "+ Debian photos, sigma 15-35, gain": {**extra, "sigma_range": (15, 35), "augment": ["gain"]},
        "+ Debian photos, sigma 15-35, gain, unclipped targets": {
            **extra, "sigma_range": (15, 35), "augment": ["gain"], "unclipped_targets": True},
        "+ Debian photos, sigma 15-35, channels, gain, unclipped targets": {
            **extra, "sigma_range": (15, 35), "augment": ["channels", "gain"], "unclipped_targets": True},
        "+ Debian photos, sigma 10-40, channels, gain, unclipped targets": {
            **extra, "sigma_range": (10, 40), "augment": ["channels", "gain"], "unclipped_targets": True},
        "+ Debian photos, sigma 10-40, channels, exposure, unclipped targets": {
            **extra, "sigma_range": (10, 40), "augment": ["channels", "exposure"], "unclipped_targets": True},
        "+ Debian photos, sigma 10-40, exposure, unclipped targets": {
            **extra, "sigma_range": (10, 40), "augment": ["exposure"], "unclipped_targets": True},
    }


def run(options, n_train, epochs, seed, val, test):
    with tempfile.TemporaryDirectory(prefix="n2n-ablation-") as folder:
        build(folder, n_train=n_train, seed=seed, **options)
        train = training_pairs(*load_pairs(Path(folder) / TRAIN_FILE, "train"))
    torch.manual_seed(seed)
    model = Model(**CONFIG, seed=seed)
    started = time.perf_counter()
    model.train(*train, num_epochs=epochs, progress=False)
    seconds = time.perf_counter() - started
    unseen = {}
    for sigma in SIGMAS:
        noisy = noisy_copy(test, sigma)
        unseen[str(sigma)] = scores(predict_batches(model, noisy), noisy, test)
    return {"val_psnr": validation_psnr(model, *val), "unseen": unseen, "train_seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(ROOT / "photos"))
    parser.add_argument("--testset", default=str(ROOT / "data" / "unseen"))
    parser.add_argument("--data", default=str(ROOT / "data"), help="holds the default val_data.pkl")
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--json", default=str(ROOT / "results" / "data_ablation.json"))
    parser.add_argument("--markdown", action="store_true", help="also print the results as a Markdown table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    val = load_pairs(Path(args.data) / VAL_FILE, "val")
    test = load_clean(args.testset)
    path = Path(args.json)
    setup = {"n_train": args.n_train, "epochs": args.epochs, "config": CONFIG, "seed": args.seed}
    results = json.loads(path.read_text()) if path.exists() else {}
    if results.get("setup") != setup:
        results = {"setup": setup, "runs": {}}
    for name, options in variants(Path(args.photos)).items():
        if name in results["runs"]:
            continue
        record = run(options, args.n_train, args.epochs, args.seed, val, test)
        record["options"] = {k: [str(x) for x in v] if k == "extra_train" else v for k, v in options.items()}
        results["runs"][name] = record
        at = {s: record["unseen"][str(s)] for s in SIGMAS}
        print(f"{name:52} val {record['val_psnr']:6.2f} dB | unseen " + "  ".join(
            f"s{s:g}: {r['psnr']:.2f} dB {100 * r['worse']:.0f}% worse col {r['colour_shift']:.1f}"
            for s, r in at.items()) + f" | {record['train_seconds']:.0f} s", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        print(markdown(results["runs"]))


def markdown(runs: dict) -> str:
    """The README's table: validation PSNR, then the unseen set per noise level."""
    lines = ["| training data | validation dB | " + " | ".join(f"unseen σ {s:g} dB" for s in SIGMAS)
             + " | worse at σ 15 | worse at σ 25 | colour shift at σ 25 |",
             "| --- " + "| ---: " * (len(SIGMAS) + 4) + "|"]
    for name, run in runs.items():
        unseen = run["unseen"]
        lines.append(f"| {name} | {run['val_psnr']:.2f} | "
                     + " | ".join(f"{unseen[str(s)]['psnr']:.2f}" for s in SIGMAS)
                     + f" | {100 * unseen['15.0']['worse']:.0f}% | {100 * unseen['25.0']['worse']:.0f}% | "
                     f"{unseen['25.0']['colour_shift']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
