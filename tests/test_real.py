"""Evaluation on real noisy photos and their ground truth (n2n evaluate --real), on pictures made here."""
import json

import pytest
import torch
from PIL import Image

from helpers import smooth_pictures
from n2n_nograd import cli, real

Model = pytest.importorskip("Miniproject_2.model").Model


def save(picture, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture.permute(1, 2, 0).numpy()).save(path)


def noisy_copy(picture, sigma, seed):
    noise = torch.randn(picture.shape, generator=torch.Generator().manual_seed(seed)) * sigma
    return (picture.float() + noise).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture
def polyu(tmp_path):
    """Four PolyU-named pairs from two cameras (PNG: lossless, so the noise is as drawn)."""
    clean = smooth_pictures(4, 3, 24, 32, seed=3)
    names = ["CamA_1_100_800_cup_1", "CamA_1_100_800_cup_2", "CamB_2_100_1600_pot_1", "CamB_2_100_1600_pot_2"]
    for i, name in enumerate(names):
        save(clean[i], tmp_path / f"{name}_mean.png")
        save(noisy_copy(clean[i], 8, i), tmp_path / f"{name}_real.png")
    return tmp_path


def test_polyu_layout(polyu):
    pairs = real.find_pairs(polyu)
    assert [p.camera for p in pairs] == ["CamA", "CamA", "CamB", "CamB"]
    assert all(p.noisy.stem.endswith("_real") and p.clean.stem.endswith("_mean") for p in pairs)


def test_plain_layout(tmp_path):
    clean = smooth_pictures(3, 3, 16, 16)
    for i, name in enumerate(["phone/a", "phone/b", "c"]):
        save(clean[i], tmp_path / "clean" / f"{name}.png")
        save(clean[i], tmp_path / "noisy" / f"{name}.png")
    pairs = real.find_pairs(tmp_path)
    assert [(p.name, p.camera) for p in pairs] == [("c", "-"), ("phone/a", "phone"), ("phone/b", "phone")]


def test_missing_partners_and_empty_folders_are_named(tmp_path):
    picture = smooth_pictures(1, 3, 8, 8)[0]
    save(picture, tmp_path / "x_real.png")
    with pytest.raises(ValueError, match="x_mean"):
        real.find_pairs(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no pairs"):
        real.find_pairs(tmp_path / "empty")
    save(picture, tmp_path / "plain" / "noisy" / "a.png")
    (tmp_path / "plain" / "clean").mkdir()
    with pytest.raises(ValueError, match="no clean picture a"):
        real.find_pairs(tmp_path / "plain")


def test_sizes_must_agree(tmp_path):
    save(smooth_pictures(1, 3, 8, 8)[0], tmp_path / "a_real.png")
    save(smooth_pictures(1, 3, 8, 10)[0], tmp_path / "a_mean.png")
    with pytest.raises(ValueError, match="ground truth"):
        real.load_pair(real.find_pairs(tmp_path)[0])


def test_numbers_of_the_identity_and_of_a_perfect_denoiser(polyu):
    pairs = real.find_pairs(polyu)
    pictures = [real.load_pair(p) for p in pairs]
    truth = {id(noisy): clean for noisy, clean in pictures}
    same = real.summary(real.measure(lambda noisy: noisy.float(), pictures))
    assert same["gain"] == 0 and same["worse"] == 0 and same["n"] == 4
    assert same["input_psnr"] == pytest.approx(-10 * torch.log10(torch.tensor(64 / 255 ** 2)).item(), abs=0.3)
    perfect = real.summary(real.measure(lambda noisy: truth[id(noisy)].float() + 1, pictures))
    assert perfect["psnr"] == pytest.approx(48.13, abs=0.01) and perfect["colour_shift"] == pytest.approx(1)


def test_the_fixed_level_of_each_picture_is_chosen_on_the_other_half():
    # Level 1 is best on the even pictures, level 2 on the odd ones.
    scores = {1.0: [30, 20, 30, 20], 2.0: [25, 25, 25, 25]}
    psnr, levels = real.cross_fitted_level(scores)
    assert levels == [2.0, 1.0, 2.0, 1.0] and psnr == [25, 20, 25, 20]



@pytest.mark.parametrize("levels", [(18.0,), (1.0, 2.0)])
def test_bm3d_rows_run_each_level_given(polyu, monkeypatch, levels):
    calls = []
    def fake_bm3d(noisy, sigma):
        calls.append(sigma)
        return noisy.float()
    monkeypatch.setattr("n2n_nograd.baselines.bm3d", fake_bm3d)
    results = real.evaluate(real.find_pairs(polyu), {}, bm3d_pictures=4, log=lambda line: None, bm3d_levels=levels)
    if len(levels) == 1:
        assert list(results["denoisers"]) == ["BM3D (sigma 18 for every picture)"] and calls == [18.0] * 4
    else:
        assert list(results["denoisers"]) == ["BM3D (sigma estimated per picture)",
                                              "BM3D (best fixed sigma, other half)"]
        assert sorted(set(calls) - {1.0, 2.0}) and calls.count(1.0) == calls.count(2.0) == 4
    assert set(results["bm3d_levels"].values()) <= set(levels) and len(results["bm3d_levels"]) == 4

@pytest.mark.parametrize("factor", [2, 3])
def test_pixel_shuffle_of_the_identity_is_the_identity(factor):
    picture = smooth_pictures(1, 3, 13, 17)
    seen = []
    def identity(noisy):
        seen.append(noisy.shape[2:])
        return noisy.float()
    assert torch.equal(real.pixel_shuffled(identity, factor)(picture), picture.float())
    assert (13 // factor, 17 // factor) in seen


def test_evaluate_real_command(capsys, polyu, tmp_path):
    status = cli.main(["evaluate", "--real", str(polyu), "--model", "deep", "--shuffle", "2",
                       "--strength", "0,1.5,auto", "--json", str(tmp_path / "out.json")])
    text = capsys.readouterr().out
    assert status == 0 and "4 pairs" in text and "CamA" in text and "shuffle 2x2" in text
    assert "strength 1.5" in text and "strength auto" in text
    results = json.loads((tmp_path / "out.json").read_text())
    committed = results["denoisers"]["nograd committed deep"]
    assert set(committed["per_camera"]) == {"CamA", "CamB"}
    assert committed["overall"]["gain"] > 0, "white noise of sigma 8: the committed deep model removes it"
    assert results["denoisers"]["nograd committed deep strength 0"]["overall"]["gain"] == 0


def test_evaluate_real_with_bm3d_at_one_level(capsys, polyu, monkeypatch):
    monkeypatch.setattr("n2n_nograd.baselines.bm3d_missing", lambda: None)
    monkeypatch.setattr("n2n_nograd.baselines.bm3d", lambda noisy, sigma: noisy.float())
    status = cli.main(["evaluate", "--real", str(polyu), "--model", "deep", "--bm3d", "2", "--bm3d-levels", "18"])
    text = capsys.readouterr().out
    assert status == 0 and "BM3D (sigma 18 for every picture)" in text and "estimated" not in text


def test_evaluate_real_refuses_a_folder_without_pairs(capsys, tmp_path):
    assert cli.main(["evaluate", "--real", str(tmp_path), "--model", "deep"]) == 2
    assert "no pairs" in capsys.readouterr().err
