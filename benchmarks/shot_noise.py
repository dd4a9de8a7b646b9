"""The deep model under a camera's noise: Gaussian read noise plus photon (shot) noise.

    python benchmarks/shot_noise.py [--n32 500] [--n128 100] [--json PATH]   # default results/shot_noise.json

A camera's noise has the variance ``alpha v + beta`` at brightness ``v`` (0-255 scale), so
shadows are less noisy than skies. On the unseen-source pictures (``data/unseen``, 32x32,
and ``data/unseen128``, 128x128, from ``n2n testset``), clipped and rounded like a picture
file, this scores the committed deep model's ``predict`` twice: with the blend toward the
input measuring the noise as one level (``SIGNIFICANCE`` infinite, the blend before shot
noise was measured) and as a line in brightness (the default; see
``Miniproject_2/others/denoisers/shrinkage.py``), and non-local means beside them; for each shot noise
also the default on Gaussian noise of the same root mean square level (what the shot noise
costs). Gaussian noise (``alpha = 0``) at sigma 3 to 10 is scored too: there the two blends
must agree.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))

from Miniproject_2.model import Model  # noqa: E402
from Miniproject_2.others.denoisers import shrinkage  # noqa: E402
from n2n_nograd.baselines import nl_means  # noqa: E402
from n2n_nograd.data import load_clean  # noqa: E402
from n2n_nograd.noise import noisy_version  # noqa: E402
from n2n_nograd.evaluation import scores  # noqa: E402

#: (alpha, beta) of the noise's variance: light, moderate and heavy shot noise, then Gaussian.
NOISES = ((0.5, 4.0), (1.5, 9.0), (3.0, 25.0), (0.0, 9.0), (0.0, 25.0), (0.0, 100.0))


def camera_noise(clean, alpha, beta, seed):
    """The evaluation's noise model (clipped, rounded, uint8) with the standard deviation
    ``sqrt(alpha clean + beta)`` per pixel, a fixed draw per ``seed``."""
    z = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))
    return noisy_version(clean, 1.0, z.mul_((alpha * clean + beta).sqrt_()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n32", type=int, default=500, help="32x32 pictures (default: 500)")
    parser.add_argument("--n128", type=int, default=100, help="128x128 pictures (default: 100)")
    parser.add_argument("--json", type=Path, default=ROOT / "results/shot_noise.json",
                        help="where the rows go (default: results/shot_noise.json)")
    args = parser.parse_args()
    sets = {"32x32": load_clean(ROOT / "data/unseen")[:args.n32].float(),
            "128x128": load_clean(ROOT / "data/unseen128")[:args.n128].float()}
    model = Model(arch="deep")
    model.load_pretrained_model()
    print(f"{'set':8} {'alpha':>5} {'beta':>5} {'rms sigma':>9} {'input':>6} {'one level':>9} {'line':>6} "
          f"{'diff':>6} {'worse (one / line)':>18} {'nl-means':>8} {'gaussian, same rms':>18}")
    rows = []
    for name, clean in sets.items():
        for k, (alpha, beta) in enumerate(NOISES):
            noisy = camera_noise(clean, alpha, beta, seed=k)
            row = {"set": name, "alpha": alpha, "beta": beta,
                   "rms_sigma": math.sqrt(alpha * clean.mean().item() + beta)}
            for label, significance in (("one_level", math.inf), ("line", shrinkage.SIGNIFICANCE)):
                kept, shrinkage.SIGNIFICANCE = shrinkage.SIGNIFICANCE, significance
                try:
                    row[label] = scores(model.predict(noisy), noisy, clean)
                finally:
                    shrinkage.SIGNIFICANCE = kept
            row["nl_means"] = scores(nl_means(noisy), noisy, clean)
            if alpha > 0:
                same_rms = camera_noise(clean, 0.0, row["rms_sigma"] ** 2, seed=k)
                row["gaussian_same_rms"] = scores(model.predict(same_rms), same_rms, clean)
            rows.append(row)
            one, line = row["one_level"], row["line"]
            print(f"{name:8} {alpha:5g} {beta:5g} {row['rms_sigma']:9.2f} {one['input_psnr']:6.2f} {one['psnr']:9.2f} "
                  f"{line['psnr']:6.2f} {line['psnr'] - one['psnr']:+6.2f} "
                  f"{100 * one['worse']:8.1f}% / {100 * line['worse']:4.1f}% {row['nl_means']['psnr']:8.2f} "
                  f"{row['gaussian_same_rms']['psnr'] if alpha > 0 else math.nan:18.2f}", flush=True)
    args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
