"""Noise that is not white: JPEG'd and grey pictures, and real camera noise with and without
``predict``'s blend toward the input and its colour check.

    python benchmarks/camera_noise.py [--checkpoint PATH ...] [--strength S ...] [--n 100]
                                      [--real DIR [--real-n 20]] [--json PATH]   # default results/camera_noise.json
    python benchmarks/camera_noise.py --bias-only        # part 0 alone -> results/camera_noise_bias.json

0. The training targets' bias (``n2n_nograd/camera.py``): on the first ``--n`` unseen-source
   pictures through the camera pipeline at three shot-noise levels (read noise drawn with it),
   the mean signed error against the noiseless pipeline of a target put through the whole
   pipeline (clipped; and rounded) and of the first-order target that training uses, over
   every value and per brightness band.
1. On the unseen-source pictures (``data/unseen128`` from ``n2n testset``, the first ``--n``),
   at sigma 15, 25 and 50: Gaussian noise clipped and rounded and saved as PNG (lossless, the
   quality tables' protocol), the same pictures saved as JPEG at quality 95 and 75 with 4:2:0
   chroma (what cameras and Pillow write by default), and grey pictures (luma in three
   channels, the same noise in each; the clean picture is the grey one). PSNR of the input and
   of each model's output against the clean picture, and for JPEG of the clean picture through
   the same JPEG without noise: what the file keeps, which a denoiser passes only by undoing
   JPEG's own loss. With ``--strength``, each model also at those strengths (``predict``'s
   argument), as ``NAME strength S``.
2. With ``--real DIR`` (pairs as ``n2n evaluate --real`` reads them; the first ``--real-n``,
   spread over the set): each model's ``predict`` as it is, without the check that gives back
   detail taken for noise where the noise is correlated (``others/denoisers/detail.py``), with
   the blend toward the input (``others/denoisers/shrinkage.py``) run whatever the correlation
   of neighbouring residuals (as before its gate, and without the detail check), without the
   blend (nor the detail check), and without those and the colour check
   (``others/denoisers/clipping.py``): the blend and the colour check assume white, clipped
   Gaussian noise.

Each model is the committed deep one (``committed``) or a checkpoint of ``n2n train``.
"""
import argparse
import json
import math
import sys
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))

from Miniproject_2.model import Model  # noqa: E402
from n2n_nograd.camera import draw_cameras, grey, jpeg, target_bias  # noqa: E402
from n2n_nograd.cli.common import strength_label, strength_value  # noqa: E402
from n2n_nograd.data import load_clean  # noqa: E402
from n2n_nograd.denoise import predict_batches  # noqa: E402
from n2n_nograd.evaluation import noisy_copy  # noqa: E402
from n2n_nograd.psnr import psnr  # noqa: E402
from n2n_nograd.real import find_pairs, load_pair, measure, summary  # noqa: E402

SIGMAS = (15.0, 25.0, 50.0)
#: Shot noise levels of the bias measurement: the least, a middle and the most training draws.
SHOTS = (1e-4, 1e-3, 1.2e-2)
#: Name -> how a clean uint8 set becomes the (noisy uint8, clean uint8) pair scored at ``sigma``.
CASES = {
    "png": lambda clean, sigma: (noisy_copy(clean, sigma, 0), clean),
    "jpeg q95 4:2:0": lambda clean, sigma: (jpeg(noisy_copy(clean, sigma, 0), 95, 2), clean),
    "jpeg q75 4:2:0": lambda clean, sigma: (jpeg(noisy_copy(clean, sigma, 0), 75, 2), clean),
    "grey": lambda clean, sigma: _grey_pair(clean, sigma),
}


def _grey_pair(clean, sigma):
    picture = grey(clean).round().to(torch.uint8)
    one = noisy_copy(picture[:, :1].contiguous(), sigma, 0)
    return one.expand(-1, 3, -1, -1).contiguous(), picture


def load(checkpoint):
    model = Model(arch="deep")
    if checkpoint == "committed":
        model.load_pretrained_model()
    else:
        model.load_model(checkpoint)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", action="append", help="a deep model (repeatable; default: committed)")
    parser.add_argument("--strength", type=strength_value, action="append", default=[],
                        help="also each model at this strength, or auto, in part 1 (repeatable)")
    parser.add_argument("--n", type=int, default=100, help="128x128 unseen pictures (default: 100)")
    parser.add_argument("--real", type=Path, help="a folder of real noisy pictures and their ground truth")
    parser.add_argument("--real-n", type=int, default=20, help="real pairs, spread over the set (default: 20)")
    parser.add_argument("--bias-only", action="store_true",
                        help="only the targets' bias, overall and per brightness (a minute), no model; "
                             "written to results/camera_noise_bias.json unless --json says otherwise")
    parser.add_argument("--json", type=Path, default=None,
                        help="where the rows go (default: results/camera_noise.json)")
    args = parser.parse_args()
    args.json = args.json or ROOT / ("results/camera_noise_bias.json" if args.bias_only else "results/camera_noise.json")
    models = {name: load(name) for name in args.checkpoint or ["committed"]}
    settings = {name: (model, 1.0) for name, model in models.items()}
    settings.update({f"{name} strength {strength_label(s)}": (model, s)
                     for s in args.strength for name, model in models.items()})
    results = {"n": args.n, "bias": [], "synthetic": [], "real": []}
    clean = load_clean(ROOT / "data/unseen128")[:args.n]
    print(f"{'shot':>8}  target bias (0-255 levels): {'full':>7}{'rounded':>9}{'first order':>13}")
    for shot in SHOTS:
        generator = torch.Generator().manual_seed(0)
        bias = target_bias(clean, draw_cameras(len(clean), generator, shot_range=(shot, shot)), generator)
        results["bias"].append({"shot": shot, **bias})
        print(f"{shot:>8g}{'':29}{bias['full']:>+7.3f}{bias['full_rounded']:>+9.3f}{bias['first_order']:>+13.3f}")
        for band in bias["by_brightness"]:
            print(f"{'':8}  brightness {band['band'][0]:>3}-{band['band'][1]:<3} ({100 * band['share']:4.1f}% of values)"
                  f"{band['full']:>+7.3f}{band['full_rounded']:>+9.3f}{band['first_order']:>+13.3f}")
    if args.bias_only:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
        return
    print(f"{'case':<16}{'sigma':>6}{'input':>8}" + "".join(f"{name[-24:]:>26}" for name in settings))
    # The same case without noise: what the file alone keeps (None where it keeps everything).
    noiseless = {}
    for case, make in CASES.items():
        kept, truth = make(clean, 0.0)
        noiseless[case] = None if torch.equal(kept, truth) else psnr(kept.float() / 255, truth.float() / 255)
    for sigma in SIGMAS:
        for case, make in CASES.items():
            noisy, truth = make(clean, sigma)
            target = truth.float() / 255
            row = {"case": case, "sigma": sigma, "input_psnr": psnr(noisy.float() / 255, target),
                   "noiseless_psnr": noiseless[case],
                   "psnr": {name: psnr(predict_batches(model, noisy, strength=s) / 255, target)
                            for name, (model, s) in settings.items()}}
            results["synthetic"].append(row)
            print(f"{case:<16}{sigma:>6g}{row['input_psnr']:>8.2f}"
                  + "".join(f"{row['psnr'][name]:>26.2f}" for name in settings), flush=True)
    if args.real:
        pairs = find_pairs(args.real)
        pairs = pairs[::max(1, len(pairs) // args.real_n)][:args.real_n]
        pictures = [load_pair(pair) for pair in pairs]
        results["real_pictures"] = [pair.name for pair in pairs]
        off = lambda *args, **kwargs: None  # noqa: E731
        switches = {"as is": {},
                    "no detail check": {"Miniproject_2.others.denoisers.shrinkage.give_back_detail": off},
                    "blend, no neighbour gate": {"Miniproject_2.others.denoisers.shrinkage.CORRELATED": math.inf},
                    "no blend": {"Miniproject_2.model.shrinkage.shrink_to_input": off},
                    "no blend, no colour check": {"Miniproject_2.model.shrinkage.shrink_to_input": off,
                                                  "Miniproject_2.model.clipping.match_colour": off}}
        print(f"\n{args.real}: {len(pairs)} pairs\n{'model':<28}{'predict':<28}{'input':>8}{'output':>8}"
              f"{'gain':>7}{'worse':>7}{'colour':>7}")
        for name, model in models.items():
            for label, patches in switches.items():
                with patched(patches):
                    numbers = summary(measure(lambda noisy: model.predict(noisy), pictures))
                results["real"].append({"model": name, "predict": label, **numbers})
                print(f"{name[-27:]:<28}{label:<28}{numbers['input_psnr']:>8.2f}{numbers['psnr']:>8.2f}"
                      f"{numbers['gain']:>+7.2f}{100 * numbers['worse']:>6.0f}%{numbers['colour_shift']:>7.2f}",
                      flush=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"numbers written to {args.json}")


def patched(patches):
    """Each named attribute replaced by its value while the context lasts."""
    stack = ExitStack()
    for name, value in patches.items():
        stack.enter_context(mock.patch(name, value))
    return stack


if __name__ == "__main__":
    main()
