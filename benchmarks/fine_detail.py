"""How much fine detail a picture holds: the training crops against a camera's full-resolution
pictures, and what ``n2n data --soften`` does to the crops.

    python benchmarks/fine_detail.py --real DIR [--n 2000] [--json PATH]   # default results/fine_detail.json

The measure is the share of the luma's detail that is finer than a blur of one pixel: the
variance of ``y - blur(y, 1)`` over that of ``y - blur(y, 4)`` (Gaussian blurs, sigma in
pixels), its median over 64x64 pictures. The training crops are cut as ``n2n data`` cuts them
(scikit-image's training photos, ``photos/train`` and ``photos/train2``: random squares made
small, so each pixel averages many of the photo's); the real pictures are the ground truths of
a real-noise set (``n2n evaluate --real``'s layouts) cut in 64x64 tiles, as a camera recorded
them at full resolution. Then the training crops blurred by each sigma of ``--soften``.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))

from n2n_nograd.camera import gaussian_blur, grey  # noqa: E402
from n2n_nograd.crops import bundled_split, clean_pictures, find_photos  # noqa: E402
from n2n_nograd.real import find_pairs, load_pair  # noqa: E402

SIZE = 64
TRAIN_PHOTOS = ("photos/train", "photos/train2")


def blur(pictures: torch.Tensor, sigma: float) -> torch.Tensor:
    """Every picture (N, C, H, W) blurred by a Gaussian of ``sigma`` pixels."""
    return gaussian_blur(pictures.double(), torch.full((len(pictures),), sigma, dtype=torch.float64))


def fine_share(pictures: torch.Tensor) -> float:
    """The median over pictures (N, 3, H, W) of the luma's detail finer than one pixel's blur
    against that finer than four pixels'."""
    luma = grey(pictures)[:, :1].double()
    fine, coarse = ((luma - blur(luma, sigma)).pow(2).mean((1, 2, 3)) for sigma in (1.0, 4.0))
    share = fine / coarse.clamp(min=1e-12)
    return float(share.median())


def tiles(picture: torch.Tensor) -> torch.Tensor:
    """The whole SIZE x SIZE tiles of a (1, 3, H, W) picture."""
    _, c, h, w = picture.shape
    cut = picture[..., :h - h % SIZE, :w - w % SIZE]
    return cut.unfold(2, SIZE, SIZE).unfold(3, SIZE, SIZE).permute(0, 2, 3, 1, 4, 5).reshape(-1, c, SIZE, SIZE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, required=True, help="a folder of real noisy pictures and their ground truth")
    parser.add_argument("--n", type=int, default=2000, help="training crops (default: 2000)")
    parser.add_argument("--soften", type=float, nargs="+", default=[0.3, 0.75, 1.2],
                        help="blur sigmas (pixels) for the softened crops (default: 0.3 0.75 1.2)")
    parser.add_argument("--json", type=Path, default=ROOT / "results/fine_detail.json", help="where the numbers go")
    args = parser.parse_args()
    photos = bundled_split()[0] + [p for folder in TRAIN_PHOTOS for p in find_photos(ROOT / folder)]
    crops = clean_pictures(photos, args.n, SIZE, np.random.SeedSequence(0))
    real = torch.cat([tiles(load_pair(pair)[1]) for pair in find_pairs(args.real)])
    rows = {f"{args.real.name} ground truths ({len(real)} tiles)": fine_share(real),
            f"training crops ({len(crops)})": fine_share(crops)}
    for sigma in args.soften:
        rows[f"training crops softened by a blur of {sigma:g} px"] = fine_share(blur(crops, sigma))
    for label, value in rows.items():
        print(f"{label:<55}{value:>7.3f}")
    args.json.write_text(json.dumps({"size": SIZE, "fine_share": rows}, indent=2) + "\n")
    print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
