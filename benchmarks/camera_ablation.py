"""What the camera model's training noise buys: white Gaussian noise only, camera noise only,
the mixture, and the mixture without JPEG, each a short fine-tuning of the committed deep model.

    python benchmarks/camera_ablation.py --real DIR [--variants camera,mixture,mixture-lossless]
                                         [--subset 10000] [--epochs 2] [--n 100] [--out runs/camera_ablation]
                                         [--json results/camera_ablation.json]

Each variant builds its training set with ``n2n data --noise VARIANT`` (the 20,000 64x64 crops
of the camera model's photos, ``photos/train`` and ``photos/train2``, fresh noise each epoch;
the same seed, so the same crops), fine-tunes the committed deep model on ``--subset`` of them
for ``--epochs`` epochs (Adam, lr 2e-4, bfloat16), keeps the best epoch on its own validation
set, and is scored on: the real noisy photos of ``DIR`` (``n2n evaluate --real``'s numbers),
white noise on the first ``--n`` unseen 128x128 pictures at sigma 15, 25 and 50, and the same noise saved
as a JPEG of quality 95 with 4:2:0 colour and on grey pictures (``benchmarks/camera_noise.py``'s
cases). The committed deep model (no fine-tuning: white Gaussian noise only, and the
``gaussian`` variant's start) and the deep model on the 2x2 pixel-shuffled sub-images (a
baseline that breaks the noise's correlation at inference) are rows too. Variants
already in the JSON file (with the same settings) are skipped, so an interrupted run continues where it stopped. Needs
``n2n photos`` and ``n2n testset --photos photos/unseen --out data/unseen128 --size 128 --n 400``.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT))

from Miniproject_2.model import Model  # noqa: E402
from n2n_nograd.data import load_clean  # noqa: E402
from n2n_nograd.psnr import psnr  # noqa: E402
from n2n_nograd.real import find_pairs, load_pair, measure, pixel_shuffled, summary  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from camera_noise import CASES  # noqa: E402

VARIANTS = ("camera", "mixture", "mixture-lossless")
SIGMAS = (15.0, 25.0, 50.0)
SYNTHETIC = ("png", "jpeg q95 4:2:0", "grey")


def n2n(*command):
    """Run an n2n command in a subprocess (its own threads and memory), failing loudly."""
    subprocess.run([sys.executable, "-m", "n2n_nograd", *map(str, command)], cwd=ROOT, check=True)


def score(predict, real_pictures, clean128, batch=50) -> dict:
    """The row's numbers: real photos overall and per camera, white/JPEG/grey per sigma;
    ``batch`` pictures a call (1 for a denoiser of one picture)."""
    pictures, cameras = real_pictures
    rows = measure(predict, pictures)
    numbers = {"real": {"overall": summary(rows), "per_camera": {
        camera: summary(rows, [i for i, c in enumerate(cameras) if c == camera]) for camera in sorted(set(cameras))}}}
    numbers["synthetic"] = {}
    for case in SYNTHETIC:
        for sigma in SIGMAS:
            noisy, truth = CASES[case](clean128, sigma)
            out = torch.cat([predict(noisy[i:i + batch]) for i in range(0, len(noisy), batch)])
            numbers["synthetic"][f"{case} {sigma:g}"] = psnr(out / 255, truth.float() / 255)
    return numbers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", type=Path, required=True, help="real noisy photos and their ground truth")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--subset", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=100, help="unseen 128x128 pictures for the synthetic cases")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "camera_ablation")
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "camera_ablation.json")
    args = parser.parse_args()
    settings = {"subset": args.subset, "epochs": args.epochs, "n": args.n}
    results = json.loads(args.json.read_text()) if args.json.is_file() else {"rows": {}}
    if any(results.get(key) != value for key, value in settings.items()):
        results = {"rows": {}}
    results.update(settings)
    pairs = find_pairs(args.real)
    loaded = [load_pair(pair) for pair in pairs]
    real_pictures = (loaded, [pair.camera for pair in pairs])
    clean128 = load_clean(ROOT / "data" / "unseen128")[:args.n]

    def save():
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")

    deep = Model(arch="deep", precision="bf16")
    deep.load_pretrained_model()
    baselines = {"committed deep model": (lambda noisy: deep.predict(noisy), 50),
                 "committed deep model, 2x2 pixel-shuffled": (pixel_shuffled(lambda noisy: deep.predict(noisy), 2), 1)}
    for name, (predict, batch) in baselines.items():
        if name not in results["rows"]:
            results["rows"][name] = score(predict, real_pictures, clean128, batch)
            save()
    for variant in args.variants.split(","):
        if variant in results["rows"]:
            continue
        started = time.perf_counter()
        data, run = args.out / f"{variant}_data", args.out / variant
        n2n("data", "--out", data, "--size", 64, "--n-train", 20000, "--train-photos", "photos/train",
            "--train-photos", "photos/train2", "--sigma-range", 0, 50, "--augment", "channels", "--augment",
            "gain", "--unclipped-targets", "--fresh-noise", "--noise", variant)
        n2n("train", "--out", run, "--data", data, "--preset", "deep", "--init", "committed", "--lr", 2e-4,
            "--precision", "bf16", "--device", "cpu", "--epochs", args.epochs, "--subset", args.subset)
        model = Model(arch="deep", precision="bf16")
        model.load_model(run / "best.pkl")
        results["rows"][variant] = {**score(lambda noisy: model.predict(noisy), real_pictures, clean128),
                                    "seconds": time.perf_counter() - started}
        save()
        real = results["rows"][variant]["real"]["overall"]
        print(f"{variant}: real {real['psnr']:.2f} dB ({real['gain']:+.2f})", flush=True)
    print(markdown(results))
    print(f"numbers written to {args.json}")


def markdown(results) -> str:
    """The ablation's table: real-noise gain, then PSNR per synthetic case and sigma."""
    keys = [f"{case} {sigma:g}" for case in SYNTHETIC for sigma in SIGMAS]
    lines = ["| training noise | real: gain (worse) | " + " | ".join(keys) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in keys) + " |"]
    for name, row in results["rows"].items():
        real = row["real"]["overall"]
        lines.append(f"| {name} | {real['gain']:+.2f} ({100 * real['worse']:.0f}%) | "
                     + " | ".join(f"{row['synthetic'][key]:.2f}" for key in keys) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
