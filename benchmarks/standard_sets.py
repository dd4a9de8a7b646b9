"""The field's standard colour test sets at sigma 15, 25 and 50, under both protocols, beside
the published figures and BM3D run here on the same inputs.

    python benchmarks/standard_sets.py --sets DIR [--checkpoint NAME_OR_PATH ...] [--bm3d N]
                                       [--precision fp32|bf16] [--json PATH]
    python benchmarks/standard_sets.py --markdown JSON [JSON ...]   # the docs' table from runs' files

``DIR`` holds ``cbsd68/``, ``kodak24/`` and ``mcmaster/`` (any of them; PNG or TIFF pictures).
Two protocols, from one standard-normal draw per picture and sigma (so they differ only in
what a file does to the noise):

``papers``  ``clean + sigma * z`` in floating point, neither clipped nor rounded, as the
            published figures are measured; the model takes it with
            ``Model.predict(x, unclipped=True)``.
``file``    the same, clipped to 0-255 and rounded, as a picture file holds it.

PSNR per picture against the clean picture (peak 255; the output clipped to 0-255, not
rounded), then the mean over the set, as the papers report it. Models: ``deep`` (the committed
deep model), ``camera`` (the committed camera model), ``auto`` (``n2n denoise``'s default: the
camera model, or the deep one where the noise is white) or a checkpoint of ``n2n train``;
default the deep and the camera model. BM3D (``bm3d_rgb`` told the true sigma) runs on the first ``--bm3d``
pictures of each set, in each protocol (about 10 s a picture here), with each model's mean on
those same pictures beside it.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))

from Miniproject_2.model import CAMERA_CHECKPOINT, Model  # noqa: E402
from n2n_nograd.baselines import bm3d  # noqa: E402
from n2n_nograd.psnr import psnr_per_image  # noqa: E402
from n2n_nograd.route import Router  # noqa: E402

SETS = ("cbsd68", "kodak24", "mcmaster")
SIGMAS = (15, 25, 50)
PROTOCOLS = ("papers", "file")
#: Published colour results on the papers' protocol (dB; the folder's README lists the sources):
#: set -> method -> the three sigmas.
PUBLISHED = {
    "cbsd68": {"CBM3D": (33.52, 30.71, 27.38), "CDnCNN-B": (33.90, 31.24, 27.95),
               "FFDNet": (33.87, 31.21, 27.96), "DRUNet": (34.30, 31.69, 28.51)},
    "kodak24": {"CBM3D": (34.28, 31.68, 28.46), "CDnCNN-B": (34.48, 32.03, 28.85),
                "FFDNet": (34.63, 32.13, 28.98), "DRUNet": (35.31, 32.89, 29.86)},
    "mcmaster": {"CBM3D": (34.06, 31.66, 28.51), "CDnCNN-B": (33.44, 31.51, 28.61),
                 "FFDNet": (34.66, 32.35, 29.18), "DRUNet": (35.40, 33.14, 30.08)},
}


def load_set(folder: Path) -> list[torch.Tensor]:
    """The set's clean pictures, (1, 3, H, W) float 0-255 each, in file-name order."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".tif", ".tiff"))
    return [torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)[None].float()
            for p in files]


def noisy(clean: torch.Tensor, sigma: float, index: int, protocol: str) -> torch.Tensor:
    """The picture's noisy version under ``protocol`` (the same draw for both)."""
    z = torch.randn(clean.shape, generator=torch.Generator().manual_seed(index * 1000 + sigma))
    picture = clean + sigma * z
    return picture if protocol == "papers" else picture.clamp(0, 255).round()


def psnr(picture: torch.Tensor, clean: torch.Tensor) -> float:
    """PSNR (peak 255) of one (1, 3, H, W) picture, in float64."""
    return psnr_per_image(picture.double() / 255, clean.double() / 255).item()


def load_model(name: str, precision: str):
    if name == "auto":
        return Router(load_model("camera", precision), load_model("deep", precision))
    model = Model(arch="deep", precision=precision)
    if name == "deep":
        model.load_pretrained_model()
    else:
        model.load_model(CAMERA_CHECKPOINT if name == "camera" else name)
    return model


def markdown(results: list[dict]) -> str:
    """The quality page's table from one or more runs' JSON (their models side by side): each
    model's PSNR under the papers' / the file's protocol, BM3D and the first model on BM3D's
    pictures, and the published figures."""
    rows = {}
    for result in results:
        for row in result["rows"]:
            merged = rows.setdefault((row["set"], row["sigma"]), {"published": row["published"]})
            merged.setdefault(row["protocol"], {"models": {}, "bm3d": None, "bm3d_pictures": 0})
            merged[row["protocol"]]["models"].update(row["models"])
            if row.get("bm3d") is not None:
                merged[row["protocol"]].update(bm3d=row["bm3d"], bm3d_pictures=row["bm3d_pictures"],
                                               bm3d_model=next(iter(row["models"])))
    names = list(dict.fromkeys(name for merged in rows.values() for name in merged["papers"]["models"]))
    methods = list(PUBLISHED["cbsd68"])
    lines = ["| set | σ | " + " | ".join(f"{name} (papers / file)" for name in names)
             + " | BM3D here (papers / file) | " + " | ".join(methods) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in names) + " | ---: | "
             + " | ".join("---:" for _ in methods) + " |"]
    for (set_name, sigma), merged in rows.items():
        papers, file = merged["papers"], merged["file"]
        cells = [f"{papers['models'][name]['psnr']:.2f} / {file['models'][name]['psnr']:.2f}"
                 if name in papers["models"] and name in file["models"] else "" for name in names]
        bm3d = (f"{papers['bm3d']:.2f} / {file['bm3d']:.2f} ({papers['bm3d_model']} "
                f"{papers['models'][papers['bm3d_model']]['psnr_bm3d_pictures']:.2f} / "
                f"{file['models'][papers['bm3d_model']]['psnr_bm3d_pictures']:.2f}, first {papers['bm3d_pictures']})"
                if papers["bm3d"] is not None else "")
        lines.append(f"| {set_name} | {sigma} | " + " | ".join(cells) + f" | {bm3d} | "
                     + " | ".join(f"{merged['published'][method]:.2f}" for method in methods) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", type=Path, nargs="+", metavar="JSON",
                        help="print the table of these runs' files and stop")
    parser.add_argument("--sets", type=Path, help="folder holding cbsd68/, kodak24/, mcmaster/")
    parser.add_argument("--checkpoint", action="append",
                        help="deep, camera, auto or a checkpoint (repeatable; default: deep and camera)")
    parser.add_argument("--bm3d", type=int, default=5, metavar="N", help="BM3D on the first N pictures of each set")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--json", type=Path, default=ROOT / "results/standard_sets.json")
    args = parser.parse_args()
    if args.markdown:
        print(markdown([json.loads(path.read_text()) for path in args.markdown]))
        return
    if args.sets is None:
        parser.error("--sets DIR is needed (or --markdown)")
    names = args.checkpoint or ["deep", "camera"]
    models = {name: load_model(name, args.precision) for name in names}
    rows = []
    for set_name in SETS:
        if not (args.sets / set_name).is_dir():
            continue
        pictures = load_set(args.sets / set_name)
        for s, sigma in enumerate(SIGMAS):
            for protocol in PROTOCOLS:
                inputs = [noisy(clean, sigma, i, protocol) for i, clean in enumerate(pictures)]
                row = {"set": set_name, "sigma": sigma, "protocol": protocol, "pictures": len(pictures),
                       "input": float(np.mean([psnr(x, c) for x, c in zip(inputs, pictures)])),
                       "published": {method: values[s] for method, values in PUBLISHED[set_name].items()},
                       "models": {}, "bm3d_pictures": min(args.bm3d, len(pictures))}
                for name, model in models.items():
                    start = time.perf_counter()
                    scores = [psnr(model.predict(x, unclipped=protocol == "papers"), c)
                              for x, c in zip(inputs, pictures)]
                    row["models"][name] = {"psnr": float(np.mean(scores)),
                                           "psnr_bm3d_pictures": float(np.mean(scores[:row["bm3d_pictures"]])),
                                           "seconds": time.perf_counter() - start}
                if row["bm3d_pictures"]:
                    row["bm3d"] = float(np.mean([psnr(bm3d(x, sigma), c) for x, c in
                                                 zip(inputs[:row["bm3d_pictures"]], pictures)]))
                rows.append(row)
                print(f"{set_name:<9}{sigma:>3} {protocol:<7} input {row['input']:6.2f}  "
                      + "  ".join(f"{name} {numbers['psnr']:6.2f}" for name, numbers in row["models"].items())
                      + (f"  | first {row['bm3d_pictures']}: BM3D {row['bm3d']:6.2f} "
                         + " ".join(f"{name} {numbers['psnr_bm3d_pictures']:6.2f}"
                                    for name, numbers in row["models"].items()) if row["bm3d_pictures"] else "")
                      + "  | published " + " ".join(f"{m} {v:.2f}" for m, v in row["published"].items()),
                      flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"precision": args.precision, "models": names, "rows": rows}, indent=2) + "\n")
    print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
