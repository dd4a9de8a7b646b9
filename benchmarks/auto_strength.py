"""What ``strength="auto"``, ``n2n denoise``'s default, does to pictures that are not a camera's
noisy photos: pictures without noise, and light white noise in PNG, JPEG and grey pictures.

    python benchmarks/auto_strength.py [--n 100] [--clean DIR ...] [--precision fp32] [--json PATH]
                                      # default results/real_noise/auto_strength.json

The committed models through the auto route (``n2n denoise``'s default model), at strength 1
and at ``auto``, on

1. the first ``--n`` unseen-source pictures (``data/unseen128`` from ``n2n testset``) without
   noise and with white noise of sigma 3 to 50, in each of ``camera_noise.py``'s cases
   (PNG, JPEG q95 and q75 with 4:2:0 chroma, grey pictures);
2. the clean pictures of each ``--clean DIR`` (e.g. ``../shared/data/kodak24``), as they are.

Per row: the pictures, the share that ``auto`` smoothed more (whose result differs from
strength 1's), the mean PSNR against the clean picture at strength 1 and at ``auto``, the mean
change and the worst. A picture without noise is scored against itself.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from camera_noise import CASES  # noqa: E402
from n2n_nograd.data import load_clean  # noqa: E402
from standard_sets import load_model, load_set, psnr  # noqa: E402

SIGMAS = (0.0, 3.0, 5.0, 10.0, 15.0, 25.0, 50.0)


def compare(model, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict:
    """Strength 1 against auto over batches of (noisy, clean) pictures, each (N, 3, H, W)."""
    plain, auto, smoothed = [], [], 0
    for noisy, clean in batches:
        with torch.no_grad():
            one = model.predict(noisy)
            chosen = model.predict(noisy, strength="auto")
        for i in range(len(noisy)):
            smoothed += not torch.equal(one[i], chosen[i])
            plain.append(psnr(one[i:i + 1], clean[i:i + 1].float()))
            auto.append(psnr(chosen[i:i + 1], clean[i:i + 1].float()))
    change = [b - a for a, b in zip(plain, auto)]
    return {"n": len(plain), "smoothed": smoothed / len(plain), "strength_1": sum(plain) / len(plain),
            "auto": sum(auto) / len(auto), "change": sum(change) / len(change), "worst": min(change)}


def show(label: str, row: dict) -> None:
    print(f"{label:<28}{row['n']:>5}{100 * row['smoothed']:>9.0f}%{row['strength_1']:>12.2f}{row['auto']:>8.2f}"
          f"{row['change']:>+8.2f}{row['worst']:>+8.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="128x128 unseen pictures (default: 100)")
    parser.add_argument("--clean", type=Path, action="append", default=[],
                        help="a folder of clean pictures, denoised as they are (repeatable)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--json", type=Path, default=ROOT / "results/real_noise/auto_strength.json")
    args = parser.parse_args()
    model = load_model("auto", args.precision)
    results = {"precision": args.precision, "n": args.n, "synthetic": [], "clean": []}
    print(f"{'pictures':<28}{'n':>5}{'smoothed':>10}{'strength 1':>12}{'auto':>8}{'change':>8}{'worst':>8}")
    unseen = load_clean(ROOT / "data/unseen128")[:args.n]
    for sigma in SIGMAS:
        for case, make in CASES.items():
            noisy, clean = make(unseen, sigma)
            row = {"case": case, "sigma": sigma, **compare(model, [(noisy, clean)])}
            results["synthetic"].append(row)
            show(f"{case}, sigma {sigma:g}", row)
    for folder in args.clean:
        row = {"set": str(folder), **compare(model, [(picture, picture) for picture in load_set(folder)])}
        results["clean"].append(row)
        show(f"{folder.name}, no noise", row)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
