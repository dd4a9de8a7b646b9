"""Denoising quality on the validation set: the committed model against its references.

    python benchmarks/quality.py [--data data] [--json results/quality.json]

Rows: the noisy input; scikit-image's non-local means (blind sigma); the seed
report's configuration trained with this framework (``runs/seed``); the same
network as ours trained with the same recipe in torch.nn + autograd
(``runs/twin``); and ours (the committed ``bestmodel.pkl``, whose training
run is ``runs/best``). Each trained row reports its parameter count, the
epoch of its best validation PSNR and the training time up to that epoch, read
from the run's ``metrics.jsonl``; the metrics are also copied to
``results/<run>/metrics.jsonl`` for the report.
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT))

from n2n_nograd.baselines import BASELINES  # noqa: E402
from n2n_nograd.cli import model_class_for  # noqa: E402
from n2n_nograd.data import VAL_FILE, input_psnr, load_pairs  # noqa: E402
from n2n_nograd.denoise import validation_psnr  # noqa: E402
from n2n_nograd.plots import METRICS_FILE, RUN_FILE, read_metrics  # noqa: E402
from n2n_nograd.psnr import psnr  # noqa: E402

#: (row name, implementation, run folder, checkpoint or None for the committed one)
TRAINED = (
    ("seed report's configuration, this framework", "nograd", "seed", "best.pkl"),
    ("torch.nn + autograd twin, same recipe", "torch", "twin", "best.pkl"),
    ("ours: committed bestmodel.pkl", "nograd", "best", None),
)


def trained_row(name, impl, run_dir, checkpoint, noisy, clean, results_dir):
    model = model_class_for(impl)()
    if checkpoint is None:
        model.load_pretrained_model()
    else:
        model.load_model(run_dir / checkpoint)
    started = time.perf_counter()
    score = validation_psnr(model, noisy, clean)
    predict_seconds = time.perf_counter() - started
    records = read_metrics(run_dir)
    best = max(records, key=lambda r: r["val_psnr"])
    target = results_dir / run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    for file in (METRICS_FILE, RUN_FILE):
        shutil.copy(run_dir / file, target / file)
    params = sum(t.numel() for t in model.net.state_dict().values())
    return {"name": name, "impl": impl, "run": run_dir.name, "psnr": score, "params": params,
            "epochs": best["epoch"], "train_seconds": best["cumulative_seconds"],
            "config": json.loads((run_dir / RUN_FILE).read_text())["config"],
            "predict_seconds": predict_seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "data"))
    parser.add_argument("--runs", default=str(ROOT / "runs"), help="folder holding the runs seed/, twin/, best/")
    parser.add_argument("--json", default=str(ROOT / "results" / "quality.json"))
    args = parser.parse_args()
    noisy, clean = load_pairs(Path(args.data) / VAL_FILE, "val")
    results_dir = Path(args.json).parent
    noisy_db = input_psnr(noisy, clean)
    rows = [{"name": "noisy input", "psnr": noisy_db}]
    for label, denoise in BASELINES.values():
        started = time.perf_counter()
        score = psnr(denoise(noisy) / 255, clean.float() / 255)
        rows.append({"name": label, "psnr": score, "predict_seconds": time.perf_counter() - started})
    for name, impl, run, checkpoint in TRAINED:
        run_dir = Path(args.runs) / run
        if not (run_dir / METRICS_FILE).is_file():
            print(f"skipping {name!r}: no run in {run_dir}")
            continue
        rows.append(trained_row(name, impl, run_dir, checkpoint, noisy, clean, results_dir))
    for row in rows:
        row["gain_db"] = row["psnr"] - noisy_db
        extra = (f"  {row['params']:>7,} params, best at epoch {row['epochs']}, "
                 f"{row['train_seconds'] / 60:.1f} min training" if "params" in row else "")
        print(f"{row['name']:<48} {row['psnr']:6.2f} dB  {row['gain_db']:+5.2f} dB{extra}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"noisy_psnr": noisy_db, "n_val": len(noisy), "rows": rows}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
