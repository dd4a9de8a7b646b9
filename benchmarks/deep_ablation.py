"""Which deep network: depth, width, skip type, patch size and epochs, measured.

    python benchmarks/deep_ablation.py --device cuda --jobs 8 [--epochs 8] [--out runs/deep_ablation]
    python benchmarks/deep_ablation.py --markdown          # the table of results/deep_ablation.json

Every variant of the U-Net (``Model(arch="deep")``) trains with the recipe of
``tools/train_deep.sh`` (fresh noise each epoch, sigma 0-50, Adam lr 1e-3) for the same
number of epochs over the same number of training pixels (a bank of 64x64 crops, or
as many pixels in 32x32 or 96x96 crops for the patch-size variants), so each sees the
same pixels and noise levels. Each is then scored on the validation photos (never the
unseen-source test set, which judges only the chosen model) at sigma 5, 25 and 50 with
``n2n evaluate``, and the validation PSNR after each epoch gives the epochs curve.
Variants run as parallel processes (``--jobs``), which suits a GPU; their wall times
are therefore not compared (``benchmarks/speed.py --networks deep`` times a step).
"""
import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "deep_ablation.json"
BASE = {"channels": "48,48,48", "skip": "concat", "size": 64}
VARIANTS = {
    "base (48,48,48 concat, 64 px)": {},
    "width 32": {"channels": "32,32,32"},
    "width 64": {"channels": "64,64,64"},
    "depth 2": {"channels": "48,48"},
    "depth 4": {"channels": "48,48,48,48"},
    "skip add": {"skip": "add"},
    "patch 32": {"size": 32},
    "patch 96": {"size": 96},
}
SIGMAS = "5,25,50"


def _run(command, log):
    result = subprocess.run([sys.executable, "-m", "n2n_nograd", *command], cwd=ROOT,
                            capture_output=True, text=True)
    Path(log).write_text(result.stdout + result.stderr)
    if result.returncode:
        raise RuntimeError(f"n2n {' '.join(command)} failed ({result.returncode}); see {log}")


def build_data(out, sizes, crops, seed):
    """One bank per patch size, each of as many pixels as ``crops`` crops of 64x64."""
    for size in sizes:
        folder = out / f"data{size}"
        if not (folder / "train_clean.pkl").is_file():
            _run(["data", "--out", str(folder), "--size", str(size), "--n-train", str(crops * 64 ** 2 // size ** 2),
                  "--train-photos", "photos/train", "--sigma-range", "0", "50", "--augment", "channels",
                  "--augment", "gain", "--unclipped-targets", "--fresh-noise", "--seed", str(seed)],
                 out / f"data{size}.log")


def train_and_score(name, out, epochs, device):
    spec = {**BASE, **VARIANTS[name]}
    run = out / name.split(" (")[0].replace(" ", "_")
    data = out / f"data{spec['size']}"
    if not (run / "metrics.jsonl").is_file() or len((run / "metrics.jsonl").read_text().splitlines()) < epochs:
        resume = ["--resume"] if (run / "run.json").is_file() else []
        _run(["train", "--data", str(data), "--preset", "deep", "--channels", spec["channels"],
              "--skip", spec["skip"], "--epochs", str(epochs), "--out", str(run), "--device", device, *resume],
             run.with_suffix(".train.log"))
    _run(["evaluate", "--data", str(out / "data64"), "--checkpoint", str(run / "best.pkl"), "--sigmas", SIGMAS,
          "--device", device, "--json", str(run / "eval.json")], run.with_suffix(".eval.log"))
    rows = json.loads((run / "eval.json").read_text())["sets"]
    (rows,) = rows.values()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {"spec": spec, "epochs": [r["val_psnr"] for r in records],
            "seconds_per_epoch": sum(r["epoch_seconds"] for r in records) / len(records),
            "sigmas": {str(row["sigma"]): {"input": row["input_psnr"], "psnr": row["psnr"], "worse": row["worse"]}
                       for row in rows["rows"] if row["denoiser"].startswith("model")}}


def markdown(results):
    sigmas = SIGMAS.split(",")
    lines = ["| variant | " + " | ".join(f"σ {s}: PSNR (worse)" for s in sigmas)
             + f" | validation PSNR after epochs {', '.join(map(str, range(2, results['epochs'] + 1, 2)))} |",
             "|---|" + "---|" * (len(sigmas) + 1)]
    for name, result in results["variants"].items():
        cells = [f"{result['sigmas'][f'{float(s)}']['psnr']:.2f} ({100 * result['sigmas'][f'{float(s)}']['worse']:.0f}%)"
                 for s in sigmas]
        curve = ", ".join(f"{v:.2f}" for v in result["epochs"][1::2])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {curve} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--crops", type=int, default=8000, help="training crops of 64x64 per epoch "
                        "(other patch sizes get as many pixels)")
    parser.add_argument("--jobs", type=int, default=1, help="variants trained at once")
    parser.add_argument("--out", default="runs/deep_ablation")
    parser.add_argument("--json", default=str(RESULTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true", help="print the table of --json and stop")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(Path(args.json).read_text())))
        return
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    build_data(out, sorted({spec.get("size", BASE["size"]) for spec in VARIANTS.values()}), args.crops, args.seed)
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {name: pool.submit(train_and_score, name, out, args.epochs, args.device) for name in VARIANTS}
    results = {"device": args.device, "epochs": args.epochs, "crops_per_epoch": args.crops, "sigmas": SIGMAS,
               "variants": {}, "failed": {}}
    for name, future in futures.items():
        try:
            results["variants"][name] = future.result()
        except RuntimeError as error:
            results["failed"][name] = str(error)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    for name, error in results["failed"].items():
        print(f"{name}: {error}", file=sys.stderr)


if __name__ == "__main__":
    main()
