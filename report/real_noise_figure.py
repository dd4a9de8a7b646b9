"""A crop of a real noisy photo: noisy, each deep model, BM3D and the ground truth, for the README.

    python report/real_noise_figure.py --real DIR --name NAME [--crop TOP,LEFT,SIDE]
        [--checkpoint deep --checkpoint camera --checkpoint PATH ...] [--strength S ...] [--bm3d-sigma S]
        [--without-detail] [--out results/real_noise.png]

DIR holds pairs as ``n2n evaluate --real`` reads them; NAME is one pair's name (PolyU's file
name without ``_real.JPG``). Each model denoises the whole picture; the crop is cut from the
results, and each title gives the crop's PSNR against the ground truth.
"""
import argparse
import sys
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT))

import figures  # noqa: E402
from typeset import PAGE  # noqa: E402
from Miniproject_2.model import CAMERA_CHECKPOINT, Model  # noqa: E402
from n2n_nograd.baselines import bm3d  # noqa: E402
from n2n_nograd.cli.common import strength_value  # noqa: E402
from n2n_nograd.psnr import psnr_per_image  # noqa: E402
from n2n_nograd.real import find_pairs, load_pair  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", required=True, type=Path, help="folder of real noisy pictures and ground truth")
    parser.add_argument("--name", required=True, help="the pair to show")
    parser.add_argument("--crop", default="0,0,160", help="TOP,LEFT,SIDE in pixels (default: 0,0,160)")
    parser.add_argument("--checkpoint", action="append",
                        help="deep models to show: `deep` (the committed deep model), `camera` (the committed "
                             "camera model) or a checkpoint's path (default: deep and camera)")
    parser.add_argument("--strength", type=strength_value, action="append", default=[],
                        help="also the camera model at this strength, or auto (predict's; repeatable)")
    parser.add_argument("--bm3d-sigma", type=float, help="also BM3D at this level (0-255)")
    parser.add_argument("--without-detail", action="store_true",
                        help="also the camera model without predict's detail check (others/denoisers/detail.py)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "real_noise.png")
    args = parser.parse_args(argv)
    pairs = {pair.name: pair for pair in find_pairs(args.real)}
    if args.name not in pairs:
        parser.error(f"no pair named {args.name!r} in {args.real}")
    noisy, clean = load_pair(pairs[args.name])
    top, left, side = (int(v) for v in args.crop.split(","))

    def crop(picture):
        return picture[:, :, top:top + side, left:left + side].float()

    def cell(title, picture):
        score = psnr_per_image(crop(picture) / 255, crop(clean) / 255).item()
        return f"{title} {score:.1f} dB", crop(picture)[0]

    cells = [cell("noisy", noisy)]
    if args.without_detail:
        model = Model(arch="deep")
        model.load_model(CAMERA_CHECKPOINT)
        with mock.patch("Miniproject_2.others.denoisers.shrinkage.give_back_detail", lambda noisy, out, levels: out):
            cells.append(cell("camera, no detail check", model.predict(noisy)))
    for checkpoint in args.checkpoint or ["deep", "camera"]:
        model = Model(arch="deep")
        if checkpoint == "deep":
            model.load_pretrained_model()
        else:
            model.load_model(CAMERA_CHECKPOINT if checkpoint == "camera" else checkpoint)
        # Short titles: up to seven pictures share the page's width.
        label = checkpoint if checkpoint in ("deep", "camera") else Path(checkpoint).stem
        cells.append(cell(label, model.predict(noisy)))
    if args.strength:
        model = Model(arch="deep")
        model.load_model(CAMERA_CHECKPOINT)
    for strength in args.strength:
        cells.append(cell("auto" if strength == "auto" else f"s={strength:g}", model.predict(noisy, strength=strength)))
    if args.bm3d_sigma:
        cells.append(cell("BM3D", bm3d(noisy, args.bm3d_sigma)))
    cells.append(("ground truth", crop(clean)[0]))
    draw = figures.noise_levels_photo([(pairs[args.name].camera, cells)])
    figures.save_alone(draw, (PAGE[0] - 1.4, 1.6), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
