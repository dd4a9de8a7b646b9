"""The benchmark commands of the README start and explain themselves (their full runs take minutes)."""
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    """benchmarks/<name>.py as a module."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.fixture(scope="module")
def speed():
    return load("speed")


@pytest.mark.parametrize("script", ["speed.py", "ablation.py", "quality.py", "deep_ablation.py", "data_ablation.py",
                                    "shot_noise.py", "auto_strength.py"])
def test_benchmark_help(script):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert "usage:" in out.stdout


def test_speed_threads_sets_both_sides_and_refuses_zero():
    """``--threads`` applies before anything is timed (the run's header says how many) and
    is refused below one, naming the value."""
    speed_py = str(ROOT / "benchmarks" / "speed.py")
    out = subprocess.run([sys.executable, speed_py, "--threads", "1", "--layers", "--networks", "default",
                          "--batch", "2", "--rounds", "1"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.startswith("torch ") and "1 threads" in out.stdout.splitlines()[0]
    refused = subprocess.run([sys.executable, speed_py, "--threads", "0"], capture_output=True, text=True, cwd=ROOT)
    assert refused.returncode == 2 and "--threads must be at least 1, got 0" in refused.stderr


def test_speed_results_file_is_named_after_what_was_measured(speed):
    """Only the default networks' run on this CPU with torch's threads writes results/speed.json."""
    results = ROOT / "results"
    assert speed.default_json(speed.DEFAULT_NETWORKS, "cpu", None) == results / "speed.json"
    assert speed.default_json(["deep"], "cpu", None) == results / "speed_deep.json"
    assert speed.default_json(["deep"], "cpu", 1) == results / "speed_deep_1thread.json"
    assert speed.default_json(["default", "seed"], "cuda:0", 2) == results / "speed_cuda_2threads.json"
    assert speed.default_json(["committed"], "cpu", None) == results / "speed_committed.json"


def test_speed_memory_probe_runs():
    """The subprocess the speed benchmark measures memory with, on the default network."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--memory-probe",
                          "default", "4", "ours"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert float(out.stdout.strip().splitlines()[-1]) >= 0


def test_speed_targets_are_checked_per_row(speed):
    row = speed.check_targets({"network": "seed", "task": "train step batch 64", "ratio": 0.64,
                               "ours_peak_mib": 160.0, "torch_peak_mib": 100.0})
    assert row["targets"] == {"ratio": 0.65, "memory_ratio": 1.5} and not row["met"]
    assert speed.check_targets({"network": "default", "task": "predict 1x512x512", "ratio": 0.59})["met"]
    untargeted = speed.check_targets({"network": "default", "task": "train step batch 16", "ratio": 0.9})
    assert untargeted["targets"] == {} and untargeted["met"] and speed.describe_targets(untargeted) == ""


def test_speed_reports_the_share_of_cpu_time_stolen(speed):
    assert speed.steal_share((10, 1000), (60, 2000)) == 0.05
    assert speed.steal_share(None, (60, 2000)) is None and speed.steal_share((1, 5), (1, 5)) is None
    now = speed.cpu_times()
    assert now is None or (0 <= now[0] <= now[1])


def test_speed_layer_breakdown_covers_every_layer(speed):
    rows = speed.layer_times("default", batch=2, rounds=1)
    assert [name.split("(")[0] for name, _, _ in rows] == [
        "Conv2d", "ReLU", "Conv2d", "ReLU", "Upsampling", "ReLU", "Upsampling", "Sigmoid"]
    assert all(f > 0 and b > 0 for _, f, b in rows)


def test_speed_deep_rows_have_a_target_and_a_goal(speed):
    assert "deep" in speed.NETWORKS and speed.DEEP_STEP == (32, 64)
    missed = speed.check_targets({"network": "deep", "task": "train step batch 32", "ratio": 1.2})
    assert missed["targets"] == {"ratio": 1.0} and not missed["met"] and missed["goal"] == 0.7
    met = speed.check_targets({"network": "deep", "task": "train step batch 32", "ratio": 0.9})
    assert met["met"] and speed.describe_targets(met) == "time <= 1.0: met (goal <= 0.7: not yet)"


def test_speed_ceiling_prints_a_row_per_convolution_shape(speed, monkeypatch, capsys):
    monkeypatch.setattr(speed, "CEILING_SHAPES", ((2, 32, 16, 16), (1, 32, 24, 16)))
    speed.print_ceiling(rounds=1, min_seconds=0.01)
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert [row.split()[:5] for row in rows] == [["2", "x", "32,", "16", "->"], ["1", "x", "32,", "24", "->"]]
    assert all(float(value) > 0 for row in rows for value in row.split()[-4:])


def test_speed_colour_check_times_clipped_pictures(speed, capsys):
    noisy, clean = speed.ramps(4, 8, 64, 50, seed=0)
    assert noisy.dtype == torch.uint8 and (clean == 0).any() and (clean == 255).any()
    speed.print_colour(rounds=1, shapes=((4, 8, 64), (1, 16, 16)))
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert [row.split()[:3] for row in rows] == [["4", "x", "8x64"], ["1", "x", "16x16"]]
    assert all(float(value) > 0 for row in rows for value in row.split()[-2:])


def test_speed_deep_pair_agrees_and_is_split_by_layer_type(speed):
    """The U-Net and its twin get the same weights; the breakdown names every layer type."""
    mine, reference = speed.make_pair("deep")
    assert speed.check_agreement(mine, reference) <= 1e-3
    rows = speed.layer_type_times("deep", batch=2, rounds=1)
    assert {kind for kind, _, _ in rows} == {"Conv2d", "LeakyReLU", "MaxPool2d", "ConcatJoin", "Residual",
                                             "Sequential"}
    assert all(f >= 0 and b >= 0 for _, f, b in rows)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "photos" / "train").is_dir(), reason="needs photos/train (`n2n photos`)")
def test_deep_ablation_trains_scores_and_tabulates_every_variant(tmp_path):
    """The whole benchmark on a tiny scale (one epoch of 16 crops' worth of pixels)."""
    out, report = tmp_path / "runs", tmp_path / "deep_ablation.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "deep_ablation.py"), "--crops", "16", "--epochs", "2",
                    "--jobs", "2", "--out", str(out), "--json", str(report)], check=True, cwd=ROOT,
                   capture_output=True)
    results = json.loads(report.read_text())
    assert results["failed"] == {} and len(results["variants"]) == 8
    assert all(set(v["sigmas"]) == {"5.0", "25.0", "50.0"} for v in results["variants"].values())


def test_quality_comparison_puts_the_ensemble_beside_the_deep_model():
    quality = load("quality")
    names = [name for name, _, _ in quality.SWEPT] + [quality.ENSEMBLE[0], quality.NL_MEANS, quality.BM3D_LABEL]
    rows = []
    for sigma in (5.0, 25.0):
        for score, name in enumerate(names):
            row = {"sigma": sigma, "denoiser": name, "n": 10, "input_psnr": 20.0, "psnr": 30.0 + score,
                   "worse": 0.0, "colour_shift": 0.5, "colour_floor": 0.4}
            if name == quality.BM3D_LABEL:
                row["paired"] = {other: {"psnr": 40.0 + i} for i, other in enumerate(names[:-1])}
            rows.append(row)
    table = quality.comparison({"rows": rows}).splitlines()
    assert "deep ×8 (ours)" in table[0] and "BM3D / deep / deep ×8" in table[0]
    assert len(table) == 4 and all(line.count("|") == table[0].count("|") for line in table)
    # deep (index 2) 32, its ensemble (index 4) 34, the deep twin (index 3) 33; BM3D 36 beside them paired.
    assert table[2].startswith("| 5 | 20.00 | 30.00 | **32.00** | 0.0% | 0.50 (0.40) | 34.00 | 33.00 | 35.00 |")
    assert table[2].endswith("| 36.00 / 42.00 / 44.00 |")


def test_auto_strength_compares_each_picture_at_strength_one_and_auto():
    auto_strength = load("auto_strength")

    class Brightens:
        """Strength 1 gives the picture back; auto adds 1 to the bright ones."""
        def predict(self, noisy, strength=1.0):
            return noisy.float() + (strength == "auto" and noisy.float().mean() > 100)

    bright, dark = torch.full((1, 3, 4, 4), 150.0), torch.full((1, 3, 4, 4), 50.0)
    row = auto_strength.compare(Brightens(), [(bright, bright - 1), (dark, dark - 1)])
    assert row["n"] == 2 and row["smoothed"] == 0.5
    assert row["strength_1"] == pytest.approx(20 * torch.log10(torch.tensor(255.0)).item())
    # Twice the error on the bright picture: 20 log10(2) dB down; the dark one unchanged.
    assert row["worst"] == pytest.approx(-20 * torch.log10(torch.tensor(2.0)).item(), abs=1e-6)
    assert row["change"] == pytest.approx(row["worst"] / 2)
    assert row["auto"] == pytest.approx(row["strength_1"] + row["change"])
