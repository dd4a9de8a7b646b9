"""The report builder runs on small fake result files and writes a PDF."""
import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from Miniproject_2.model import Model
from n2n_nograd.data import save_pairs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_report", ROOT / "report" / "build_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_json(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def fake_inputs(root, builder):
    """Every input of the report, tiny and made up; returns (results, data, checkpoint)."""
    results, data = root / "results", root / "data"
    tasks = ["train step batch 16", "train step batch 64", "train step batch 256", "predict 1000x32x32",
             "predict 1x512x512"]
    rows = []
    for network in ("default", "seed"):
        for i, task in enumerate(tasks):
            row = {"network": network, "task": task, "ours_s": 0.01 * (i + 1), "torch_s": 0.012 * (i + 1),
                   "ratio": 0.83, "ours_img_s": 1000.0, "torch_img_s": 830.0, "max_abs_diff_0_255": 3e-5}
            if task.startswith("train"):
                row.update(ours_peak_mib=12.0, torch_peak_mib=20.0)
            rows.append(row)
    write_json(results / "speed.json", {"torch": torch.__version__, "threads": 2, "rows": rows, "epoch_50k_s": 300.0})
    ablation = builder.benchmark("ablation")
    runs = {"base": {"factor": "base", "change": {}, "history": [{"val_psnr": 23.0, "seconds": 10.0}] * 2}}
    for factor, changes in ablation.VARIANTS.items():
        for i, change in enumerate(changes):
            change = {key: list(value) if isinstance(value, tuple) else value for key, value in change.items()}
            runs[f"{factor} {i}"] = {"factor": factor, "change": change,
                                     "history": [{"val_psnr": 22.0 + i, "seconds": 9.0}] * 2}
    write_json(results / "ablation.json", {
        "base": {"channels": [32, 64], "kernel_down": 2, "padding_down": 0, "kernel_up": 3, "padding_up": 1,
                 "optimizer": "adam", "lr": 1e-3, "batch_size": 32},
        "subset": 200, "epochs": 2, "noisy_psnr": 20.7, "runs": runs})
    config = {**Model().config, "channels": [32, 64]}
    rows = [{"name": "noisy input", "psnr": 20.7, "gain_db": 0.0},
            {"name": "non-local means", "psnr": 22.0, "gain_db": 1.3, "predict_seconds": 30.0}]
    deep_config = {**Model(arch="deep").config, "channels": [8, 8, 8]}
    for name, impl, run, run_config in (("seed configuration", "nograd", "seed", config),
                                        ("twin", "torch", "twin", config),
                                        ("ours: committed bestmodel.pkl", "nograd", "best", config),
                                        ("deep twin", "torch", "deep_twin", deep_config),
                                        ("ours deep", "nograd", "deep", deep_config)):
        rows.append({"name": name, "impl": impl, "run": run, "psnr": 24.0, "gain_db": 3.3, "params": 28_003,
                     "epochs": 2, "train_seconds": 120.0, "config": run_config, "predict_seconds": 0.5})
        records = [{"epoch": e, "lr": 1e-3 if e < 3 else 1e-4, "train_loss": 0.02 / e, "val_psnr": 22 + e,
                    "epoch_seconds": 60.0, "eval_seconds": 1.0, "cumulative_seconds": 60.0 * e} for e in (1, 2, 3)]
        (results / run).mkdir(parents=True)
        (results / run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        write_json(results / run / "run.json", {"impl": impl, "config": run_config, "data": "data", "subset": None,
                                                "n_train": 100, "val_input_psnr": 20.7})
    write_json(results / "deep" / "data_build.json", {"n_train": 100, "size": 64, "train_sigma_range": [0, 50]})
    write_json(results / "deep_ablation.json", {"epochs": 2, "crops_per_epoch": 100, "sigmas": "5,25", "variants": {
        name: {"epochs": [25.0, 26.0], "sigmas": {"5.0": {"psnr": 36.0, "worse": 0.01},
                                                   "25.0": {"psnr": 29.0, "worse": 0.0}}}
        for name in ("base", "width 32")}})
    write_json(results / "best" / "data_build.json", {
        "n_train": 100, "train_photos": ["photos/train/a/x.jpg", "skimage/data/astronaut.png"],
        "train_sigma_range": [10, 40], "augment": ["channels", "gain"], "unclipped_targets": True})
    quality = builder.benchmark("quality")
    names = [name for name, _, _ in quality.SWEPT] + [quality.ENSEMBLE[0], quality.NL_MEANS, quality.BM3D_LABEL]
    sweep_rows = []
    for sigma in (5.0, 25.0):
        for name in names:
            row = {"sigma": sigma, "denoiser": name, "n": 4 if name == quality.BM3D_LABEL else 10,
                   "input_psnr": 30.0, "psnr": 31.0, "gain": 1.0, "worse": 0.1, "worst_gain": -1.0,
                   "colour_shift": 1.5, "seconds_per_mp": 2.0}
            if name == quality.BM3D_LABEL:
                row["paired"] = {other: {"psnr": 30.5} for other in names[:-1]}
            sweep_rows.append(row)
    sigmas = {key: {"path": key, "n": 10, "rows": sweep_rows} for key in ("validation", "unseen")}
    write_json(results / "quality.json", {"noisy_psnr": 20.7, "n_val": 10, "rows": rows, "sigmas": sigmas})
    generator = torch.Generator().manual_seed(0)
    clean = torch.randint(0, 256, (10, 3, 32, 32), dtype=torch.uint8, generator=generator)
    data.mkdir()
    save_pairs(data / "val_data.pkl", clean.flip(0), clean)
    write_json(data / "build.json", {"sigma": 24.5, "val_input_psnr": 20.7, "n_train": 100, "n_val": 10, "size": 32})
    cameras = {"A": [f"A_{i}" for i in range(3)], "B": ["B_0"]}
    pictures = [name for names in cameras.values() for name in names]

    def real_run(*labels):
        numbers = {"n": 4, "input_psnr": 36.0, "psnr": 37.0, "gain": 1.0, "worse": 0.0, "worst_gain": 0.5,
                   "colour_shift": 0.6, "seconds_per_mp": 2.0}
        rows = {"input_psnr": [36.0] * 4, "psnr": [37.0] * 4}
        return {"pictures": pictures, "cameras": [c for c, names in cameras.items() for _ in names], "denoisers": {
            label: {"overall": numbers, "per_camera": {c: {**numbers, "n": len(n)} for c, n in cameras.items()},
                    "pictures": pictures, "rows": rows} for label in labels}}
    write_json(results / "real_noise" / "polyu_camera.json", real_run(builder.REAL_CAMERA))
    write_json(results / "real_noise" / "polyu_baselines.json",
               real_run(builder.REAL_DEEP, builder.BASELINES["nl_means"][0], builder.REAL_BM3D))
    write_json(results / "real_noise" / "polyu_camera_strength.json",
               real_run(f"{builder.REAL_CAMERA} strength {builder.REAL_STRENGTH:g}"))
    write_json(results / "real_noise" / "polyu_auto.json", real_run(builder.REAL_AUTO))
    bm3d_all = real_run("BM3D (sigma 18 for every picture)")
    bm3d_all["bm3d_levels"] = dict.fromkeys(pictures, 18.0)
    write_json(results / "real_noise" / "polyu_bm3d_all.json", bm3d_all)
    from PIL import Image
    Image.new("RGB", (80, 16), (120, 110, 100)).save(results / builder.REAL_NOISE_FIGURE)
    checkpoint = root / "model.pkl"
    Model().save_model(checkpoint)
    return results, data, checkpoint


def pages(pdf):
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))


def test_the_report_builds_from_result_files(builder, tmp_path, monkeypatch):
    """(The photograph of the noise-levels figure is left out here: its denoising takes a minute.)"""
    monkeypatch.setattr(builder, "REAL_PHOTO", tmp_path / "absent.jpg")
    results, data, checkpoint = fake_inputs(tmp_path, builder)
    out = tmp_path / "Report_2.pdf"
    count, missing = builder.build(results, data, checkpoint, out)
    assert missing == []
    assert out.read_bytes().startswith(b"%PDF")
    assert pages(out) == count >= 2


def test_missing_inputs_and_a_partial_ablation_are_listed_and_the_report_still_builds(builder, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setattr(builder, "REAL_PHOTO", tmp_path / "absent.jpg")
    results = tmp_path / "results"
    write_json(results / "ablation.json", {
        "base": {"channels": [32, 64], "kernel_down": 2, "padding_down": 0, "kernel_up": 3, "padding_up": 1,
                 "optimizer": "adam", "lr": 1e-3, "batch_size": 32}, "subset": 200, "epochs": 1, "noisy_psnr": 20.7,
        "runs": {"base": {"factor": "base", "change": {}, "history": [{"val_psnr": 23.0, "seconds": 10.0}]}}})
    out = tmp_path / "Report_2.pdf"
    count, missing = builder.build(results, tmp_path / "none", tmp_path / "none.pkl", out)
    partial = [line for line in missing if line.endswith("(partial)")]
    assert len(partial) == 1 and ": 1 of " in partial[0]
    # speed, quality, the deep ablation, the five real-noise files and its figure, build.json, val_data.pkl,
    # the checkpoint, the partial ablation
    assert len(missing) == 13
    assert pages(out) == count


def test_the_noise_levels_figure_denoises_a_photograph_with_every_method(builder, tmp_path, monkeypatch):
    photo = tmp_path / "photo.png"
    Image.effect_noise((96, 64), 60).convert("RGB").save(photo)
    monkeypatch.setattr(builder, "REAL_PHOTO", photo)
    monkeypatch.setattr(builder, "REAL_CROP", (2, 4, 12))
    monkeypatch.setattr(builder, "bm3d_missing", lambda: "not installed")
    rows = builder.real_photo_rows()
    assert [label for label, _ in rows] == [f"σ = {sigma}" for sigma in builder.REAL_SIGMAS]
    titles = [title.split()[0] for title, _ in rows[0][1]]
    assert titles == ["noisy", "required", "deep", "NL-means", "clean"]
    assert all(picture.shape == (3, 12, 12) for _, cells in rows for _, picture in cells)
