"""The n2n command line, end to end on small data sets."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers import message_lines
from n2n_nograd import cli, data, denoise, evaluation, noise
from n2n_nograd.baselines import missing_requirement

Model = pytest.importorskip("Miniproject_2.model").Model

COMMANDS = ["photos", "data", "testset", "train", "evaluate", "denoise", "plots"]


def run(capsys, *argv):
    """(exit status, stdout, stderr) of `n2n argv`."""
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(err):
    assert "Traceback" not in err
    assert len(message_lines(err)) == 1, err


def fake_train(self, train_input, train_target, num_epochs=1, progress=None):
    """Stands in for Model.train where only the run's bookkeeping is under test."""
    self.epochs_trained += num_epochs
    return [0.05] * num_epochs


@pytest.fixture
def fake_training(monkeypatch):
    """Model.train that does no work, and no examples figure (seconds on 2 cores).

    Both are exercised for real by the `trained` run; these tests are about
    the bookkeeping around them.
    """
    monkeypatch.setattr(Model, "train", fake_train)
    monkeypatch.setattr("n2n_nograd.plots.draw_examples",
                        lambda *args, **kwargs: Path(args[3]).write_bytes(b""))
    return monkeypatch


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    data.build(out, n_train=240, n_val=40, seed=5)
    return out


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """A real two-epoch run, the second epoch by --resume."""
    out = tmp_path_factory.mktemp("runs") / "small"
    first = cli.main(["train", "--data", str(dataset), "--subset", "200", "--epochs", "1",
                      "--out", str(out)])
    first_lines = (out / "metrics.jsonl").read_text().splitlines()
    second = cli.main(["train", "--out", str(out), "--resume", "--epochs", "2"])
    return out, first, first_lines, second


# --- help -----------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: n2n {command}")
    assert "options:" in out


def test_main_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_data_help_documents_noise_model(capsys):
    with pytest.raises(SystemExit):
        cli.main(["data", "--help"])
    out = capsys.readouterr().out
    assert "clip(round(clean + sigma * z), 0, 255)" in out and "20.7 dB" in out


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "n2n_nograd", "--help"], capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0 and "usage: n2n" in result.stdout


# --- data -----------------------------------------------------------------

def test_data_command_builds_a_small_set(capsys, tmp_path):
    status, out, _ = run(capsys, "data", "--out", tmp_path, "--n-train", 50, "--n-val", 20,
                         "--seed", 3)
    assert status == 0
    assert "sigma" in out and "validation input PSNR of 20.7" in out
    a, b = data.load_pairs(tmp_path / "train_data.pkl", "train")
    noisy, clean = data.load_pairs(tmp_path / "val_data.pkl", "val")
    assert a.shape == (50, 3, 32, 32) and noisy.shape == (20, 3, 32, 32)


def test_data_command_with_own_photos(capsys, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        Image.new("RGB", (80, 60), (60 * i, 100, 200 - 40 * i)).save(photos / f"p{i}.jpg")
    status, out, _ = run(capsys, "data", "--photos", photos, "--out", tmp_path / "d",
                         "--n-train", 30, "--n-val", 10, "--size", 16)
    assert status == 0
    noisy, clean = data.load_pairs(tmp_path / "d" / "val_data.pkl", "val")
    assert clean.shape == (10, 3, 16, 16)


def test_data_command_takes_camera_settings(capsys, tmp_path):
    camera = ("--noise", "mixture", "--fresh-noise", "--sigma-range", 0, 25, "--n-train", 8, "--n-val", 4,
              "--size", 16)
    status, out, _ = run(capsys, "data", "--out", tmp_path / "d", *camera, "--soften", 0.3, 1.2)
    assert status == 0 and "camera shot noise 0.0001-0.012, softened by a blur of 0.3-1.2 px" in out
    built = json.loads((tmp_path / "d" / data.INFO_FILE).read_text())
    assert built["camera"] == {"shot_range": [1e-4, 0.012], "soften": [0.3, 1.2]}
    status, _, err = run(capsys, "data", "--out", tmp_path / "e", *camera, "--shot-range", 0.01, 0.001)
    assert status == 2 and "--shot-range" in err
    assert_one_line_error(err)
    status, _, err = run(capsys, "data", "--out", tmp_path / "f", "--soften", 1, 2)
    assert status == 2 and "need --noise camera or a mixture" in err


def test_data_command_reports_bad_photo_folder(capsys, tmp_path):
    status, _, err = run(capsys, "data", "--photos", tmp_path / "missing", "--out", tmp_path / "d")
    assert status == 2
    assert_one_line_error(err)
    assert "not a directory" in err


def test_bad_option_values_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["data", "--n-train", "0"])
    assert exit_.value.code == 2
    assert "at least 1" in capsys.readouterr().err


# --- train ----------------------------------------------------------------

def test_train_then_resume(trained):
    out, first, first_lines, second = trained
    assert first == 0 and second == 0
    assert len(first_lines) == 1
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for record in records:
        assert set(record) >= {"epoch", "train_loss", "val_psnr", "epoch_seconds",
                               "cumulative_seconds"}
    assert records[1]["cumulative_seconds"] > records[0]["cumulative_seconds"]
    for name in ("checkpoint.pkl", "best.pkl", "run.json", "loss.png", "psnr.png", "examples.png"):
        assert (out / name).is_file(), name
    model = Model()
    model.load_model(out / "checkpoint.pkl")
    assert model.epochs_trained == 2
    assert json.loads((out / "run.json").read_text())["subset"] == 200


def test_train_prints_final_psnr_and_pictures(capsys, dataset, tmp_path, fake_training):
    status, out, _ = run(capsys, "train", "--data", dataset, "--epochs", 2, "--out", tmp_path / "r")
    assert status == 0
    assert "final validation PSNR" in out and "examples.png" in out and "psnr.png" in out


def test_resume_past_target_trains_nothing(capsys, dataset, tmp_path, fake_training):
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", dataset, "--epochs", 2, "--out", out)[0] == 0
    status, text, _ = run(capsys, "train", "--out", out, "--resume", "--epochs", 1)
    assert status == 0 and "already has 2 epochs" in text
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_ctrl_c_saves_a_checkpoint(capsys, dataset, tmp_path, fake_training):
    calls = []

    def train_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fake_train(self, *args, **kwargs)

    fake_training.setattr(Model, "train", train_then_interrupt)
    out = tmp_path / "r"
    status, _, err = run(capsys, "train", "--data", dataset, "--epochs", 5, "--out", out)
    assert status == 130
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    model = Model()
    model.load_model(out / "checkpoint.pkl")
    assert model.epochs_trained == 1
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1

    fake_training.setattr(Model, "train", fake_train)
    status, _, _ = run(capsys, "train", "--out", out, "--resume", "--epochs", 3)
    assert status == 0
    epochs = [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_ctrl_c_in_first_epoch(capsys, dataset, tmp_path, monkeypatch):
    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Model, "train", interrupt)
    status, _, err = run(capsys, "train", "--data", dataset, "--out", tmp_path / "r")
    # Only finished, evaluated epochs are kept: there is none, so no run folder either.
    assert status == 130 and "nothing was saved" in err and not (tmp_path / "r").exists()


def test_divergence_keeps_last_checkpoint(capsys, dataset, tmp_path, monkeypatch):
    out = tmp_path / "r"
    saved = {}

    def train_then_diverge(self, *args, **kwargs):
        if self.epochs_trained == 1:
            saved["checkpoint"] = (out / "checkpoint.pkl").read_bytes()
            saved["best"] = (out / "best.pkl").read_bytes()
            raise FloatingPointError("Model.train: training diverged at epoch 2: loss is nan")
        return fake_train(self, *args, **kwargs)

    monkeypatch.setattr(Model, "train", train_then_diverge)
    status, _, err = run(capsys, "train", "--data", dataset, "--epochs", 3, "--out", out)
    assert status == 1
    assert "diverged" in err and "left as it was" in err and "Traceback" not in err
    assert (out / "checkpoint.pkl").read_bytes() == saved["checkpoint"]
    assert (out / "best.pkl").read_bytes() == saved["best"]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1


def test_divergence_in_first_epoch_writes_nothing(capsys, dataset, tmp_path, monkeypatch):
    def diverge(self, *args, **kwargs):
        raise FloatingPointError("loss is inf")

    monkeypatch.setattr(Model, "train", diverge)
    status, _, err = run(capsys, "train", "--data", dataset, "--out", tmp_path / "r")
    assert status == 1 and "no checkpoint was written" in err
    assert not (tmp_path / "r" / "checkpoint.pkl").exists()


def test_train_refuses_to_overwrite_or_resume_nothing(capsys, dataset, tmp_path, fake_training):
    out = tmp_path / "r"
    status, _, err = run(capsys, "train", "--out", out, "--resume")
    assert status == 2 and "no checkpoint" in err
    assert_one_line_error(err)
    assert run(capsys, "train", "--data", dataset, "--epochs", 1, "--out", out)[0] == 0
    status, _, err = run(capsys, "train", "--data", dataset, "--out", out)
    assert status == 2 and "--resume" in err
    status, _, err = run(capsys, "train", "--out", out, "--resume", "--batch-size", "8")
    assert status == 2 and "batch_size" in err
    assert_one_line_error(err)


def test_train_reports_missing_data(capsys, tmp_path):
    status, _, err = run(capsys, "train", "--data", tmp_path / "nowhere", "--out", tmp_path / "r")
    assert status == 2
    assert_one_line_error(err)
    assert "train_data.pkl" in err


# --- evaluate -------------------------------------------------------------

def test_evaluate_a_checkpoint(capsys, trained, dataset, tmp_path):
    out = trained[0]
    report = tmp_path / "eval.json"
    status, text, _ = run(capsys, "evaluate", "--data", dataset, "--checkpoint", out / "best.pkl",
                          "--json", report)
    assert status == 0
    assert "noisy input" in text and "gain" in text
    numbers = json.loads(report.read_text())
    assert numbers["n_val"] == 40
    assert numbers["gain_db"] == pytest.approx(numbers["model_psnr"] - numbers["noisy_psnr"])
    assert abs(numbers["noisy_psnr"] - 20.7) <= 0.3
    best = max(json.loads(line)["val_psnr"] for line in (out / "metrics.jsonl").read_text().splitlines())
    assert numbers["model_psnr"] == pytest.approx(best, abs=1e-4)


@pytest.mark.skipif(missing_requirement() is not None, reason="PyWavelets is not installed")
def test_evaluate_with_baselines(capsys, trained, dataset, tmp_path):
    report = tmp_path / "eval.json"
    status, text, _ = run(capsys, "evaluate", "--data", dataset, "--checkpoint",
                          trained[0] / "best.pkl", "--baselines", "--json", report)
    assert status == 0 and "non-local means" in text
    nl_means = json.loads(report.read_text())["baselines"]["nl_means"]
    # Non-local means clearly beats doing nothing at this noise level.
    assert nl_means["gain_db"] > 3 and nl_means["seconds"] > 0


def test_evaluate_without_pywavelets(capsys, trained, dataset, monkeypatch):
    monkeypatch.setattr("n2n_nograd.baselines.missing_requirement", lambda: "needs PyWavelets")
    status, _, err = run(capsys, "evaluate", "--data", dataset, "--checkpoint",
                         trained[0] / "best.pkl", "--baselines")
    assert status == 2 and "PyWavelets" in err


def test_evaluate_reports_bad_checkpoint_and_data(capsys, trained, dataset, tmp_path):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"junk")
    status, _, err = run(capsys, "evaluate", "--data", dataset, "--checkpoint", junk)
    assert status == 2 and "junk.pkl" in err
    assert_one_line_error(err)
    status, _, err = run(capsys, "evaluate", "--data", tmp_path, "--checkpoint",
                         trained[0] / "best.pkl")
    assert status == 2 and "val_data.pkl" in err
    assert_one_line_error(err)


# --- denoise --------------------------------------------------------------

@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_denoise_a_png(capsys, trained, tmp_path, mode):
    source, target = tmp_path / "in.png", tmp_path / "out.png"
    Image.effect_noise((37, 21), 40).convert(mode).save(source)
    status, text, _ = run(capsys, "denoise", source, target, "--checkpoint",
                          trained[0] / "best.pkl")
    assert status == 0 and str(target) in text
    result = Image.open(target)
    assert result.mode == ("RGBA" if mode == "RGBA" else "RGB") and result.size == (37, 21)
    if mode == "RGBA":
        assert result.getchannel("A").tobytes() == Image.open(source).getchannel("A").tobytes()


def test_denoise_with_an_ensemble_is_the_mean_of_the_turned_pictures(capsys, trained, tmp_path):
    source, plain, turned = tmp_path / "in.png", tmp_path / "plain.png", tmp_path / "turned.png"
    Image.effect_noise((37, 21), 40).convert("RGB").save(source)
    checkpoint = trained[0] / "best.pkl"
    assert run(capsys, "denoise", source, plain, "--checkpoint", checkpoint)[0] == 0
    status, text, _ = run(capsys, "denoise", source, turned, "--checkpoint", checkpoint, "--ensemble", "8")
    assert status == 0 and "mean over 8 flips/rotations" in text
    model = cli.load_model("nograd", checkpoint, "cpu", "required")
    picture = denoise.read_picture(source)
    expected = model.predict(picture, ensemble=8).round().to(torch.uint8)
    assert torch.equal(denoise.read_picture(turned), expected)
    assert not torch.equal(denoise.read_picture(plain), expected)
    with pytest.raises(SystemExit):
        cli.main(["denoise", str(source), str(turned), "--ensemble", "3"])
    assert "--ensemble: invalid choice: 3" in capsys.readouterr().err


def test_denoise_errors(capsys, trained, tmp_path):
    checkpoint = trained[0] / "best.pkl"
    status, _, err = run(capsys, "denoise", tmp_path / "none.png", tmp_path / "o.png",
                         "--checkpoint", checkpoint)
    assert status == 2 and "none.png" in err
    (tmp_path / "fake.png").write_text("not a picture")
    status, _, err = run(capsys, "denoise", tmp_path / "fake.png", tmp_path / "o.png",
                         "--checkpoint", checkpoint)
    assert status == 2 and "fake.png" in err
    assert_one_line_error(err)
    status, _, err = run(capsys, "denoise", tmp_path / "fake.png", tmp_path / "o.unknown")
    assert status == 2 and "format" in err


# --- plots ----------------------------------------------------------------

def test_plots_redraws_from_metrics(capsys, trained):
    out = trained[0]
    for name in ("loss.png", "psnr.png"):
        (out / name).unlink()
    status, text, _ = run(capsys, "plots", out)
    assert status == 0
    assert (out / "loss.png").is_file() and (out / "psnr.png").is_file()


def test_plots_reports_a_folder_without_metrics(capsys, tmp_path):
    status, _, err = run(capsys, "plots", tmp_path)
    assert status == 2 and "metrics.jsonl" in err
    assert_one_line_error(err)


def test_seed_preset_trains_the_seed_reports_configuration(capsys, dataset, tmp_path, fake_training):
    out = tmp_path / "seed"
    status, _, _ = run(capsys, "train", "--data", dataset, "--preset", "seed", "--epochs", "1",
                       "--out", out)
    assert status == 0
    config = json.loads((out / "run.json").read_text())["config"]
    assert config["channels"] == [64, 128] and config["kernel_down"] == 6 and config["kernel_up"] == 7
    assert (config["optimizer"], config["lr"], config["batch_size"]) == ("sgd", 0.01, 10)


def test_options_override_the_preset(capsys, dataset, tmp_path, fake_training):
    out = tmp_path / "seed_adam"
    status, _, _ = run(capsys, "train", "--data", dataset, "--preset", "seed", "--optimizer", "adam",
                       "--lr", "0.002", "--epochs", "1", "--out", out)
    config = json.loads((out / "run.json").read_text())["config"]
    assert status == 0 and (config["optimizer"], config["lr"], config["batch_size"]) == ("adam", 0.002, 10)


# --- noise levels and unseen sources ----------------------------------------

def test_data_command_with_training_options(capsys, tmp_path):
    status, text, _ = run(capsys, "data", "--out", tmp_path, "--n-train", 60, "--n-val", 10,
                          "--sigma-range", 10, 30, "--augment", "channels", "--augment", "gain",
                          "--unclipped-targets")
    assert status == 0 and "uniformly in [10, 30]" in text and "channels, gain" in text
    info = json.loads((tmp_path / data.INFO_FILE).read_text())
    assert info["train_sigma_range"] == [10, 30] and info["augment"] == ["channels", "gain"]
    assert data.load_pairs(tmp_path / data.TRAIN_FILE, "train")[1].dtype == torch.int16


def test_data_command_refuses_a_bad_sigma_range(capsys, tmp_path):
    status, _, err = run(capsys, "data", "--out", tmp_path, "--sigma-range", 40, 20)
    assert status == 2 and "--sigma-range" in err
    assert_one_line_error(err)


@pytest.mark.parametrize("impl", ["nograd", "torch"])
def test_train_on_unclipped_targets(capsys, tmp_path, impl):
    data.build(tmp_path / "d", n_train=40, n_val=8, seed=1, unclipped_targets=True)
    status, text, _ = run(capsys, "train", "--impl", impl, "--data", tmp_path / "d", "--epochs", 1,
                          "--out", tmp_path / "run")
    assert status == 0 and "final validation PSNR" in text


@pytest.fixture(scope="module")
def testset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unseen")
    for i in range(3):
        Image.new("RGB", (48, 40), (60 * i, 200 - 50 * i, 90)).save(folder / f"p{i}.png")
    out = folder / "set"
    assert cli.main(["testset", "--photos", str(folder), "--out", str(out), "--n", "24"]) == 0
    return out


def test_evaluate_per_noise_level(capsys, trained, dataset, testset, tmp_path):
    report = tmp_path / "sweep.json"
    status, text, _ = run(capsys, "evaluate", "--data", dataset, "--checkpoint", trained[0] / "best.pkl",
                          "--testset", testset, "--sigmas", "5,25", "--json", report)
    assert status == 0 and "worse" in text and "colour" in text
    sets = json.loads(report.read_text())["sets"]
    assert list(sets) == [str(dataset / data.VAL_FILE), str(testset)]
    rows = sets[str(testset)]["rows"]
    assert [(r["sigma"], r["n"]) for r in rows] == [(5.0, 24), (25.0, 24)]
    assert rows[1]["input_psnr"] < rows[0]["input_psnr"]
    status, text, _ = run(capsys, "evaluate", "--data", dataset, "--checkpoint", trained[0] / "best.pkl",
                          "--testset", testset, "--sigmas", "25", "--ensemble", "2", "--json", report)
    assert status == 0 and "mean over 2 flips/rotations" in text
    numbers = json.loads(report.read_text())
    assert numbers["ensemble"] == 2
    assert numbers["sets"][str(testset)]["rows"][0]["psnr"] != rows[1]["psnr"]


def test_evaluate_refuses_bad_levels(capsys, dataset):
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--data", str(dataset), "--sigmas", "5,abc"])
    assert "comma-separated" in capsys.readouterr().err


def test_evaluate_without_bm3d(capsys, trained, dataset, monkeypatch):
    monkeypatch.setattr("n2n_nograd.baselines.bm3d_missing", lambda: "needs pip install bm3d")
    status, _, err = run(capsys, "evaluate", "--data", dataset, "--checkpoint",
                         trained[0] / "best.pkl", "--sigmas", "--bm3d", 2)
    assert status == 2 and "bm3d" in err


def test_denoise_warns_about_lightly_noisy_pictures(capsys, trained, tmp_path):
    from skimage import data as skimage_data

    clean = torch.from_numpy(skimage_data.coffee()[:96, :96].copy()).permute(2, 0, 1)[None]
    for sigma, warned in ((0.0, True), (30.0, False)):
        path = tmp_path / f"s{sigma:g}.png"
        denoise.write_picture(evaluation.noisy_copy(clean, sigma), path)
        status, _, err = run(capsys, "denoise", path, tmp_path / "out.png", "--checkpoint",
                             trained[0] / "best.pkl")
        assert status == 0 and ("lightly noisy" in err) == warned


@pytest.mark.parametrize("sigma", [10.0, 25.0, 50.0])
def test_noise_estimate_tracks_the_true_level(sigma):
    flat = torch.full((1, 3, 128, 128), 128, dtype=torch.uint8)
    assert denoise.estimate_sigma(evaluation.noisy_copy(flat, sigma)) == pytest.approx(sigma, rel=0.1)


@pytest.mark.parametrize("impl", ["nograd", "torch"])
def test_resume_with_a_lower_learning_rate(capsys, dataset, tmp_path, impl):
    out = tmp_path / "run"
    common = ["--impl", impl, "--data", dataset, "--subset", 64] if impl == "torch" else ["--data", dataset,
                                                                                           "--subset", 64]
    assert run(capsys, "train", *common, "--epochs", 1, "--out", out)[0] == 0
    status, text, _ = run(capsys, "train", "--out", out, "--resume", "--epochs", 2, "--lr", 1e-4)
    assert status == 0 and "learning rate 0.003 -> 0.0001 from epoch 2" in text
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == [3e-3, 1e-4]
    model = cli.model_class_for(impl)()
    model.load_model(out / "checkpoint.pkl")
    assert model.config["lr"] == 1e-4


def test_set_lr_is_checked_and_reaches_the_optimizer():
    model = Model()
    model.set_lr(1e-4)
    assert model.config["lr"] == 1e-4 and model.optimizer.lr == 1e-4
    with pytest.raises(ValueError, match="lr"):
        model.set_lr(float("nan"))


# --- the deep model and blind training -----------------------------------------------------

@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh-noise data folder: clean training crops, noise drawn by n2n train."""
    out = tmp_path_factory.mktemp("fresh")
    data.build(out, n_train=24, n_val=8, size=16, seed=2, sigma_range=(0, 50), unclipped_targets=True,
               fresh_noise=True)
    return out


def test_data_command_with_fresh_noise(capsys, tmp_path):
    status, text, _ = run(capsys, "data", "--out", tmp_path, "--n-train", 20, "--n-val", 6, "--size", 16,
                          "--sigma-range", 0, 50, "--fresh-noise")
    assert status == 0 and data.TRAIN_CLEAN_FILE in text and not (tmp_path / data.TRAIN_FILE).exists()
    assert data.load_clean(tmp_path / data.TRAIN_CLEAN_FILE).shape == (20, 3, 16, 16)
    assert json.loads((tmp_path / data.INFO_FILE).read_text())["fresh_noise"] is True
    status, _, err = run(capsys, "data", "--out", tmp_path / "no-range", "--fresh-noise")
    assert status == 2 and "--sigma-range" in err


@pytest.mark.parametrize("impl", ["nograd", "torch"])
def test_deep_model_trains_on_fresh_noise_and_resumes(capsys, fresh, tmp_path, impl):
    """Each epoch draws new pairs, which depend only on the seed and the epoch: a run
    resumed after epoch 1 ends where an uninterrupted one does."""
    common = ["--data", fresh, "--impl", impl, "--preset", "deep", "--channels", "4,4", "--batch-size", 8]
    assert run(capsys, "train", *common, "--epochs", 2, "--out", tmp_path / "whole")[0] == 0
    assert run(capsys, "train", *common, "--epochs", 1, "--out", tmp_path / "cut")[0] == 0
    status, text, _ = run(capsys, "train", "--out", tmp_path / "cut", "--resume", "--epochs", 2)
    assert status == 0 and "fresh noise each epoch (sigma 0-50)" in text
    whole, cut = (json.loads((tmp_path / name / "run.json").read_text()) for name in ("whole", "cut"))
    assert whole["config"]["arch"] == "deep" and whole["config"]["channels"] == [4, 4]
    losses = [[json.loads(line)["train_loss"] for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
              for name in ("whole", "cut")]
    assert losses[0] == pytest.approx(losses[1], rel=1e-6) and losses[0][0] != losses[0][1]


def test_time_limit_stops_after_the_epoch_past_it(capsys, fresh, tmp_path, fake_training):
    status, text, _ = run(capsys, "train", "--data", fresh, "--epochs", 5, "--time-limit", 1e-9,
                          "--out", tmp_path / "run")
    assert status == 0 and "time limit" in text and "--resume" in text
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1


def test_fresh_pairs_depend_on_seed_and_epoch_only(fresh):
    clean = data.load_clean(fresh / data.TRAIN_CLEAN_FILE)
    a, b = noise.fresh_pairs(clean, (0, 50), True, seed=0, epoch=3, device="cpu")
    again = noise.fresh_pairs(clean, (0, 50), True, seed=0, epoch=3, device="cpu")
    assert torch.equal(a, again[0]) and torch.equal(b, again[1])
    assert a.dtype == torch.uint8 and b.dtype == torch.float32 and (b < 0).any() == (b.min() < 0)
    assert not torch.equal(a, noise.fresh_pairs(clean, (0, 50), True, seed=0, epoch=4, device="cpu")[0])
    quiet, _ = noise.fresh_pairs(clean, (0, 0), True, seed=0, epoch=1, device="cpu")
    assert torch.equal(quiet, clean), "sigma 0 leaves the pictures as they are"


@pytest.mark.parametrize("model, used_archs", [(None, ["deep", "deep"]), ("required", ["simple"]), ("deep", ["deep"])])
def test_denoise_uses_the_auto_choice_by_default(capsys, tmp_path, monkeypatch, model, used_archs):
    """By default the camera model, then the deep one, since a residual of nothing is white."""
    used, strengths = [], set()
    def predict(self, x, out=None, ensemble=1, progress=False, strength=1.0, unclipped=False):
        used.append(self.config["arch"])
        strengths.add(strength)
        return x.float() if out is None else out.copy_(x)
    monkeypatch.setattr(Model, "predict", predict)
    source, target = tmp_path / "in.png", tmp_path / "out.png"
    Image.effect_noise((20, 12), 5).convert("RGB").save(source)
    status, _, err = run(capsys, "denoise", source, target, *(["--model", model] if model else []))
    # Under the default strength, auto, the command asks for the blind result and chooses from it.
    assert status == 0 and used == used_archs and strengths == {1.0}
    assert ("lightly noisy" in err) == (used_archs == ["simple"])


def test_init_starts_a_new_run_from_a_checkpoints_weights(capsys, fresh, tmp_path, fake_training):
    common = ["--data", fresh, "--preset", "deep", "--channels", "4,4", "--batch-size", 8]
    assert run(capsys, "train", *common, "--epochs", 1, "--seed", 3, "--out", tmp_path / "first")[0] == 0
    status, text, _ = run(capsys, "train", *common, "--epochs", 1, "--init", tmp_path / "first" / "best.pkl",
                          "--out", tmp_path / "tuned")
    assert status == 0 and "starting from the weights of" in text
    first, tuned = Model(arch="deep"), Model(arch="deep")
    first.load_model(tmp_path / "first" / "best.pkl")
    tuned.load_model(tmp_path / "tuned" / "best.pkl")
    assert all(torch.equal(a, b) for a, b in zip(first.net.state_dict().values(), tuned.net.state_dict().values()))
    assert json.loads((tmp_path / "tuned" / "run.json").read_text())["init"].endswith("best.pkl")
    status, _, err = run(capsys, "train", "--out", tmp_path / "tuned", "--resume", "--epochs", 2,
                         "--init", tmp_path / "first" / "best.pkl")
    assert status == 2 and "--init" in err
    status, _, err = run(capsys, "train", "--data", fresh, "--epochs", 1, "--init", tmp_path / "first" / "best.pkl",
                         "--out", tmp_path / "other")
    assert status == 2 and "differs" in err and "arch" in err


def test_denoise_strength(capsys, tmp_path):
    source = tmp_path / "in.png"
    Image.effect_noise((24, 16), 30).convert("RGB").save(source)
    assert run(capsys, "denoise", source, tmp_path / "zero.png", "--strength", 0)[0] == 0
    assert torch.equal(denoise.read_picture(tmp_path / "zero.png"), denoise.read_picture(source))
    for bad in ("9", "much"):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["denoise", str(source), str(tmp_path / "bad.png"), "--strength", bad])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "or 'auto', got" in err and bad in err
    assert not (tmp_path / "bad.png").exists()
    # Above 1 the default route's result is smoothed further: less left between neighbours.
    for strength in (1, 2.5):
        assert run(capsys, "denoise", source, tmp_path / f"s{strength}.png", "--strength", strength)[0] == 0
    roughness = [denoise.read_picture(tmp_path / f"s{strength}.png").float().diff(dim=3).square().mean()
                 for strength in (1, 2.5)]
    assert roughness[1] < roughness[0]


@pytest.mark.parametrize("chosen", [1.0, 1.5])
def test_denoise_says_when_auto_smoothed_a_picture_further(capsys, tmp_path, monkeypatch, chosen):
    from Miniproject_2.others.denoisers import strength
    monkeypatch.setattr(strength, "auto_strengths", lambda noisy, blind: torch.tensor([chosen]))
    source, target = tmp_path / "in.png", tmp_path / "out.png"
    Image.effect_noise((40, 24), 12).convert("RGB").save(source)
    status, text, err = run(capsys, "denoise", source, target, "--model", "deep")
    assert status == 0 and ("smoothed further as a camera's noise (strength 1.5" in text) == (chosen > 1)
    assert ("looks like a camera's: smoothing it further" in err) == (chosen > 1)
    assert "smoothing it further" not in run(capsys, "denoise", source, tmp_path / "q.png", "--model", "deep",
                                             "--quiet")[2]
    model = Model(arch="deep")
    model.load_pretrained_model()
    picture = denoise.read_picture(source)
    # Rounded once, at the end (predict into a uint8 tensor rounds before its blend and colour check).
    expected = model.predict(picture, strength=chosen).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(denoise.read_picture(target), expected)


def test_denoise_checks_the_output_before_any_work(capsys, tmp_path, monkeypatch):
    source = tmp_path / "in.png"
    Image.effect_noise((16, 12), 20).convert("RGB").save(source)
    monkeypatch.setattr(Model, "predict", lambda *args, **kwargs: pytest.fail("denoised before the checks"))
    for output, words in ((tmp_path / "missing" / "o.png", "does not exist"), (source, "--overwrite"),
                          (tmp_path / "o.unknown", "format")):
        status, _, err = run(capsys, "denoise", source, output)
        assert status == 2 and words in err
        assert_one_line_error(err)


def test_denoise_over_its_input_only_when_asked_and_atomically(capsys, tmp_path, monkeypatch):
    source = tmp_path / "photo.png"
    Image.effect_noise((16, 12), 20).convert("RGB").save(source)
    before = source.read_bytes()
    monkeypatch.setattr(Model, "predict", lambda self, x, out=None, **kwargs: out.copy_(255 - x))
    # An interrupted write (Ctrl-C just before the rename) leaves the old file whole.
    replace = os.replace
    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr("os.replace", interrupted)
    status, _, _ = run(capsys, "denoise", source, source, "--overwrite", "--model", "deep")
    assert status == 130 and source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"], "no temporary file left behind"
    monkeypatch.setattr("os.replace", replace)
    status, text, _ = run(capsys, "denoise", source, source, "--overwrite", "--model", "deep")
    assert status == 0 and "denoised" in text
    assert torch.equal(denoise.read_picture(source), 255 - denoise.read_picture(io.BytesIO(before)))


def test_the_camera_model_is_in_the_default_and_ours_only(capsys, tmp_path):
    source = tmp_path / "in.png"
    Image.effect_noise((16, 12), 20).convert("RGB").save(source)
    model = cli.load_model("nograd", None, "cpu", "camera")
    assert model.config["arch"] == "deep"
    status, _, err = run(capsys, "denoise", source, tmp_path / "o.png", "--impl", "torch")
    assert status == 2 and "--model deep" in err


def test_denoise_keeps_exif_and_the_colour_profile(capsys, tmp_path, monkeypatch):
    """A camera JPEG's EXIF (orientation reset once the rotation is applied) and ICC profile
    reach the output; a format without them says so in one line."""
    from PIL import ImageCms
    monkeypatch.setattr(Model, "predict", lambda self, x, out=None, **kwargs: out.copy_(x))
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "TestCam", 6  # maker; orientation: rotated 90 degrees
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "camera.jpg"
    Image.effect_noise((24, 16), 20).convert("RGB").save(source, exif=exif, icc_profile=profile, quality=95)
    for name in ("out.jpg", "out.png", "out.webp", "out.tiff"):
        assert run(capsys, "denoise", source, tmp_path / name, "--model", "deep")[0] == 0
        with Image.open(tmp_path / name) as out:
            assert out.size == (16, 24), "the rotation is applied to the pixels"
            assert out.getexif()[0x010F] == "TestCam" and out.getexif()[0x0112] == 1
            assert out.info["icc_profile"] == profile
    status, _, err = run(capsys, "denoise", source, tmp_path / "out.bmp", "--model", "deep")
    assert status == 0 and "was not copied" in err and len(err.strip().splitlines()) == 1


def test_denoise_jpeg_quality(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(Model, "predict", lambda self, x, out=None, **kwargs: out.copy_(x))
    source = tmp_path / "in.png"
    Image.effect_noise((64, 64), 40).convert("RGB").save(source)
    sizes = {}
    for quality in (30, 95):
        assert run(capsys, "denoise", source, tmp_path / f"q{quality}.jpg", "--quality", quality,
                   "--model", "deep")[0] == 0
        sizes[quality] = (tmp_path / f"q{quality}.jpg").stat().st_size
    assert sizes[30] < sizes[95]
    with pytest.raises(SystemExit):
        cli.main(["denoise", str(source), str(tmp_path / "x.jpg"), "--quality", "0"])
    assert run(capsys, "denoise", source, tmp_path / "same.webp", "--model", "deep")[0] == 0
    assert torch.equal(denoise.read_picture(tmp_path / "same.webp"), denoise.read_picture(source)), "lossless"
    status, _, err = run(capsys, "denoise", source, tmp_path / "x.gif", "--model", "deep")
    assert status == 2 and "256 colours" in err
