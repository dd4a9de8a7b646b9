"""Denoising quality: the committed models against their references, at the course's noise
level and at several noise levels on pictures from a source no model trained on.

    python benchmarks/quality.py [--data data] [--testset data/unseen] [--bm3d 50]
                                 [--testset-large data/unseen128] [--bm3d-large 8]
                                 [--json results/quality.json] [--markdown]

Part 1, the course's setting (the stored noisy validation set, one noise level):
the noisy input; scikit-image's non-local means (blind sigma); the seed report's
configuration trained with this framework (``runs/seed``); the same network as ours
trained with the same recipe in torch.nn + autograd (``runs/twin``); ours (the
committed ``bestmodel.pkl``, whose training run is ``runs/best``); and the deep model,
ours (``bestmodel_deep.pkl``, run ``runs/deep``) and its twin (``runs/deep_twin``). Each trained row
reports its parameter count, the epoch of its best validation PSNR and the training
time up to that epoch, read from the run's ``metrics.jsonl``; the run's metrics,
settings and the data set's ``build.json`` (every photo it was trained on) are copied
to ``results/<run>/`` for the report. A row whose run folder is absent keeps its last
measured numbers from the JSON file, marked ``carried``.

Part 2, per noise level (``n2n_nograd.evaluation``): noise of each sigma added to
the clean pictures of the default validation set, of the unseen-source test set
(``n2n photos``, then ``n2n testset``) and of larger pictures of the same source
(``n2n testset --size 128 --n 400 --out data/unseen128``), scored for both committed
models of each implementation (required and deep), the deep model averaged over the 8
flips/rotations of each picture (``ensemble=8``), non-local means and BM3D (told the
true sigma; on the first ``--bm3d`` pictures of each set, ``--bm3d-large`` of the larger
pictures).
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

from n2n_nograd.baselines import BASELINES, BM3D_LABEL, classical  # noqa: E402
from n2n_nograd.cli import load_model  # noqa: E402
from n2n_nograd.data import INFO_FILE, VAL_FILE, load_clean, load_pairs  # noqa: E402
from n2n_nograd.noise import input_psnr  # noqa: E402
from n2n_nograd.denoise import predict_batches, validation_psnr  # noqa: E402
from n2n_nograd.evaluation import HEADER, SIGMAS, sweep  # noqa: E402
from n2n_nograd.plots import METRICS_FILE, RUN_FILE, read_metrics  # noqa: E402
from n2n_nograd.psnr import psnr  # noqa: E402

#: (row name, implementation, run folder, checkpoint or None for the committed one of the
#: ``--model`` name that ends the row)
TRAINED = (
    ("seed report's configuration, this framework", "nograd", "seed", "best.pkl", "required"),
    ("torch.nn + autograd twin, same recipe", "torch", "twin", None, "required"),
    ("ours: committed bestmodel.pkl", "nograd", "best", None, "required"),
    ("deep twin, same recipe", "torch", "deep_twin", None, "deep"),
    ("ours deep: bestmodel_deep.pkl", "nograd", "deep", None, "deep"),
)
#: Part 2's denoisers: (name, implementation, model) of the committed models.
SWEPT = (("ours, required (bestmodel.pkl)", "nograd", "required"),
         ("torch.nn twin, required (bestmodel.pth)", "torch", "required"),
         ("ours, deep (bestmodel_deep.pkl)", "nograd", "deep"),
         ("torch.nn twin, deep (bestmodel_deep.pth)", "torch", "deep"))
#: The deep model averaged over the 8 flips/rotations of each picture (``Model.predict``'s
#: ``ensemble``): (name, implementation, model, ensemble).
ENSEMBLE = ("ours, deep, mean over 8 flips/rotations", "nograd", "deep", 8)
NL_MEANS = BASELINES["nl_means"][0]


def trained_row(name, impl, run_dir, checkpoint, model_name, noisy, clean, results_dir):
    model = load_model(impl, None if checkpoint is None else run_dir / checkpoint, "cpu", model_name)
    started = time.perf_counter()
    score = validation_psnr(model, noisy, clean)
    predict_seconds = time.perf_counter() - started
    records = read_metrics(run_dir)
    best = max(records, key=lambda r: r["val_psnr"])
    target = results_dir / run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    for file in (METRICS_FILE, RUN_FILE):
        shutil.copy(run_dir / file, target / file)
    run = json.loads((run_dir / RUN_FILE).read_text())
    build = Path(run["data"]) / INFO_FILE
    if build.is_file():
        shutil.copy(build, target / "data_build.json")
    params = sum(t.numel() for t in model.net.state_dict().values())
    return {"name": name, "impl": impl, "run": run_dir.name, "psnr": score, "params": params,
            "epochs": best["epoch"], "train_seconds": best["cumulative_seconds"],
            "config": run["config"], "predict_seconds": predict_seconds}


def course_rows(args, earlier):
    noisy, clean = load_pairs(Path(args.data) / VAL_FILE, "val")
    noisy_db = input_psnr(noisy, clean)
    rows = [{"name": "noisy input", "psnr": noisy_db}]
    for label, denoise in BASELINES.values():
        started = time.perf_counter()
        score = psnr(denoise(noisy) / 255, clean.float() / 255)
        rows.append({"name": label, "psnr": score, "predict_seconds": time.perf_counter() - started})
    for name, impl, run, checkpoint, model_name in TRAINED:
        run_dir = Path(args.runs) / run
        if (run_dir / METRICS_FILE).is_file():
            rows.append(trained_row(name, impl, run_dir, checkpoint, model_name, noisy, clean,
                                    Path(args.json).parent))
        elif name in earlier:
            print(f"{name!r}: no run in {run_dir}; keeping its numbers from {args.json}")
            rows.append({**earlier[name], "carried": True})
        else:
            print(f"skipping {name!r}: no run in {run_dir}")
    for row in rows:
        row["gain_db"] = row["psnr"] - noisy_db
        extra = (f"  {row['params']:>7,} params, best at epoch {row['epochs']}, "
                 f"{row['train_seconds'] / 60:.1f} min training" if "params" in row else "")
        print(f"{row['name']:<48} {row['psnr']:6.2f} dB  {row['gain_db']:+5.2f} dB{extra}")
    return noisy_db, len(noisy), rows


def sweeps(args):
    denoisers = {}
    models = {}
    for name, impl, model_name in SWEPT:
        model = models[impl, model_name] = load_model(impl, None, "cpu", model_name)
        denoisers[name] = lambda noisy, sigma, model=model: predict_batches(model, noisy)
    name, impl, model_name, ensemble = ENSEMBLE
    denoisers[name] = lambda noisy, sigma: predict_batches(models[impl, model_name], noisy, ensemble=ensemble)
    denoisers.update(classical(with_bm3d=True))
    sets = {"validation": (Path(args.data) / VAL_FILE, args.bm3d), "unseen": (Path(args.testset), args.bm3d),
            "unseen_large": (Path(args.testset_large), args.bm3d_large)}
    results = {}
    for key, (path, bm3d_n) in sets.items():
        clean = load_clean(path)
        size = f"{clean.shape[2]}x{clean.shape[3]}"
        print(f"\n{key}: {path}, {len(clean)} clean pictures of {size}\n{HEADER}")
        rows = sweep(denoisers, clean, SIGMAS, subsets={BM3D_LABEL: bm3d_n}, log=print)
        results[key] = {"path": str(path), "n": len(clean), "size": size, "rows": rows}
    return results


def comparison(result):
    """The README's compact table of one set: PSNR of each committed model, non-local
    means and BM3D (next to the deep model on BM3D's pictures) per noise level."""
    names = {(impl, model): name for name, impl, model in SWEPT}
    deep, ensembled = names["nograd", "deep"], ENSEMBLE[0]
    lines = ["| σ | input | required (ours) | deep (ours) | made worse | colour shift (floor) | deep ×8 (ours) | "
             "deep twin | non-local means | BM3D / deep / deep ×8 on its pictures |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    by_sigma = {}
    for row in result["rows"]:
        by_sigma.setdefault(row["sigma"], {})[row["denoiser"]] = row
    for sigma, cells in by_sigma.items():
        ours, bm3d = cells[deep], cells.get(BM3D_LABEL)
        versus = (f"{bm3d['psnr']:.2f} / {bm3d['paired'][deep]['psnr']:.2f} / {bm3d['paired'][ensembled]['psnr']:.2f}"
                  if bm3d and "paired" in bm3d else "")
        lines.append(f"| {sigma:g} | {ours['input_psnr']:.2f} | {cells[names['nograd', 'required']]['psnr']:.2f} | "
                     f"**{ours['psnr']:.2f}** | {100 * ours['worse']:.1f}% | "
                     f"{ours['colour_shift']:.2f} ({ours['colour_floor']:.2f}) | {cells[ensembled]['psnr']:.2f} | "
                     f"{cells[names['torch', 'deep']]['psnr']:.2f} | {cells[NL_MEANS]['psnr']:.2f} | {versus} |")
    return "\n".join(lines)


def markdown(sweep_results):
    """The README's per-noise-level tables."""
    lines = []
    for key, result in sweep_results.items():
        lines += [f"\n{key} ({result['n']} pictures of {result['size']}):\n",
                  "| sigma | denoiser | input dB | output dB | gain dB | made worse | worst gain dB | colour shift "
                  "(floor) | s/MP |",
                  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in result["rows"]:
            name = row["denoiser"] + (f" (first {row['n']})" if row["n"] < result["n"] else "")
            lines.append(f"| {row['sigma']:g} | {name} | {row['input_psnr']:.2f} | {row['psnr']:.2f} | "
                         f"{row['gain']:+.2f} | {100 * row['worse']:.1f}% | {row['worst_gain']:+.2f} | "
                         f"{row['colour_shift']:.2f} ({row['colour_floor']:.2f}) | {row['seconds_per_mp']:.2f} |")
        subset_rows = [r for r in result["rows"] if "paired" in r]
        if subset_rows:
            lines += ["", f"On the pictures {BM3D_LABEL} saw: " + "; ".join(
                f"sigma {r['sigma']:g}: BM3D {r['psnr']:.2f}, " + ", ".join(
                    f"{other} {scores['psnr']:.2f}" for other, scores in r["paired"].items())
                for r in subset_rows)]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT / "data"))
    parser.add_argument("--testset", default=str(ROOT / "data" / "unseen"))
    parser.add_argument("--runs", default=str(ROOT / "runs"),
                        help="folder holding the runs seed/, twin/, best/, deep/, deep_twin/")
    parser.add_argument("--testset-large", default=str(ROOT / "data" / "unseen128"),
                        help="larger pictures of the unseen source (n2n testset --size 128 --n 400), where "
                             "a picture's colour is not lost in its noise (see evaluation.colour_floor)")
    parser.add_argument("--bm3d", type=int, default=50, help="pictures per set and sigma for BM3D (default: 50)")
    parser.add_argument("--bm3d-large", type=int, default=8,
                        help="pictures per sigma for BM3D on the larger pictures (default: 8)")
    parser.add_argument("--json", default=str(ROOT / "results" / "quality.json"))
    parser.add_argument("--markdown", action="store_true", help="also print the per-sigma tables as Markdown")
    args = parser.parse_args()
    path = Path(args.json)
    earlier = {row["name"]: row for row in json.loads(path.read_text())["rows"]} if path.exists() else {}
    noisy_db, n_val, rows = course_rows(args, earlier)
    results = {"noisy_psnr": noisy_db, "n_val": n_val, "rows": rows, "sigmas": sweeps(args)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    if args.markdown:
        print(markdown(results["sigmas"]))
        for key in ("unseen", "unseen_large"):
            print(f"\n{key}, compared:\n\n" + comparison(results["sigmas"][key]))


if __name__ == "__main__":
    main()
