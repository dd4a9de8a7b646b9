"""The camera noise pipeline: un-processing and processing, the sensor's noise, the targets."""
import json
from dataclasses import asdict

import pytest
import torch

from n2n_nograd import camera, data
from n2n_nograd.noise import fresh_pairs
from n2n_nograd.training import _Pairs
from helpers import smooth_pictures


def cameras(n, seed=0, **kwargs):
    return camera.draw_cameras(n, torch.Generator().manual_seed(seed), **kwargs)


def test_unprocess_then_process_gives_the_picture_back():
    pictures = smooth_pictures(6, 3, 24, 20)
    raw = camera.unprocess(pictures.double() / 255, cameras(6))
    back = camera.process(raw, cameras(6))
    assert (back - pictures.double()).abs().max() < 1e-9
    assert torch.equal(back.round().to(torch.uint8), pictures), "within one level once rounded"


def test_the_transfer_curve_and_its_slope():
    y = torch.linspace(0, 1, 2001, dtype=torch.float64)
    assert torch.allclose(camera.srgb_to_linear(camera.linear_to_srgb(y)), y, atol=1e-12)
    numeric = (camera.linear_to_srgb(y[1:]) - camera.linear_to_srgb(y[:-1])) / (y[1] - y[0])
    middle = camera.linear_to_srgb_slope((y[1:] + y[:-1]) / 2)
    kink = 6  # the step that holds the joint of the linear toe and the power curve
    assert torch.allclose(numeric[kink + 1:], middle[kink + 1:], rtol=1e-3)
    assert torch.allclose(numeric[:kink], middle[:kink], rtol=1e-9)


def test_drawn_cameras_are_plausible():
    drawn = cameras(500, seed=3)
    assert torch.allclose(torch.linalg.inv(drawn.camera_to_rgb).sum(2), torch.ones(500, 3, dtype=torch.float64))
    green = drawn.gains[:, 1]
    assert ((drawn.gains[:, 0] / green >= 1.9) & (drawn.gains[:, 0] / green <= 2.4)).all()
    assert ((drawn.gains[:, 2] / green >= 1.5) & (drawn.gains[:, 2] / green <= 1.9)).all()
    assert ((drawn.shot >= camera.SHOT_RANGE[0]) & (drawn.shot <= camera.SHOT_RANGE[1])).all()
    # Read noise grows with shot noise, as measured on sensors.
    assert torch.corrcoef(torch.stack([drawn.shot.log(), drawn.read.log()]))[0, 1] > 0.9
    assert set(drawn.phase.flatten().tolist()) == {0, 1}


@pytest.mark.parametrize("phase", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_bayer_mask_records_one_colour_a_pixel(phase):
    one = cameras(1)
    one.phase = torch.tensor([phase])
    mask = camera.bayer_mask(one, 6, 8)
    assert torch.equal(mask.sum(1), torch.ones(1, 6, 8, dtype=mask.dtype))
    assert mask[0].mean((1, 2)).tolist() == [0.25, 0.5, 0.25]
    assert mask[0, 0, phase[0], phase[1]] == 1, "red where the phase says"


@pytest.mark.parametrize("height, width", [(6, 8), (7, 9), (2, 2)])
def test_demosaicing_keeps_flat_colour_and_recorded_values(height, width):
    drawn = cameras(3, seed=1)
    colour = torch.tensor([0.2, 0.5, 0.7], dtype=torch.float64).view(1, 3, 1, 1).expand(3, 3, height, width)
    mask = camera.bayer_mask(drawn, height, width)
    assert torch.allclose(camera.demosaic(colour * mask), colour)
    ramp = torch.rand(3, 3, height, width, dtype=torch.float64)
    assert torch.allclose(camera.demosaic(ramp * mask) * mask, ramp * mask), "recorded values kept"


@pytest.mark.parametrize("shot, read", [(1e-3, 1e-5), (1e-2, 4e-4)])
def test_raw_noise_has_the_requested_shot_and_read_variance(shot, read):
    drawn = cameras(2)
    drawn.shot, drawn.read = torch.tensor([shot, shot]), torch.tensor([read, read])
    raw = torch.tensor([0.05, 0.6], dtype=torch.float64).view(2, 1, 1, 1).expand(2, 3, 200, 200)
    noise = camera.raw_noise(raw, drawn, torch.Generator().manual_seed(4))
    expected = torch.tensor([shot * 0.05 + read, shot * 0.6 + read], dtype=torch.float64)
    assert torch.allclose(noise.var((1, 2, 3)), expected, rtol=0.02)
    assert noise.mean().abs() < 3 * expected.max().sqrt() / 346


def test_camera_noise_is_correlated_between_neighbours_and_channels():
    flat = torch.full((8, 3, 64, 64), 100, dtype=torch.uint8)
    pair = camera.camera_pair(flat, cameras(8, seed=2), torch.Generator().manual_seed(5))
    noise = (pair.noisy - pair.clean)[:, :, 2:-2, 2:-2]
    right = torch.corrcoef(torch.stack([noise[..., :-1].flatten(), noise[..., 1:].flatten()]))[0, 1]
    channels = torch.corrcoef(torch.stack([noise[:, 0].flatten(), noise[:, 1].flatten()]))[0, 1]
    assert right > 0.2, "demosaicing spreads each raw value over its neighbours"
    assert channels.abs() > 0.1, "the colour matrix mixes the channels' noise"


def test_first_order_targets_are_unbiased_where_the_full_pipeline_is_not():
    """The measured target bias (module docstring): the full pipeline's noisy targets lie
    off the noiseless picture, most in the dark, the first-order ones do not."""
    ramp = torch.linspace(0, 255, 64).round().to(torch.uint8).view(1, 1, 1, 64).expand(16, 3, 64, 64)
    bias = camera.target_bias(ramp, cameras(16, seed=6, shot_range=(5e-3, 5e-3)),
                              torch.Generator().manual_seed(7), draws=6)
    assert abs(bias["first_order"]) < 0.1 < abs(bias["full"])
    assert bias["full_rounded"] == pytest.approx(bias["full"], abs=0.05)
    bands = bias["by_brightness"]
    assert [band["band"] for band in bands] == [list(b) for b in camera.BRIGHTNESS_BANDS]
    assert sum(band["share"] for band in bands) == pytest.approx(1)
    darkest = bands[0]
    assert darkest["full"] > 1 and abs(darkest["first_order"]) < 0.1 * darkest["full"], "clipping at black lifts the full targets"


def look(drawn, values):
    """``drawn`` with the look's parameters set per camera: (chroma_blur, luma_blur, sharpen)."""
    drawn.chroma_blur[:], drawn.luma_blur[:], drawn.sharpen[:] = torch.tensor(values, dtype=torch.float64).T
    return drawn


@pytest.mark.parametrize("step", [camera.noise_reduction, camera.sharpen])
def test_the_look_is_linear_keeps_flat_colour_and_can_be_off(step):
    drawn = look(cameras(4, seed=7), [(0, 0, 0), (2, 0, 0), (0, 0.8, 1), (2.5, 0.5, 0.7)])
    g = torch.Generator().manual_seed(1)
    a, b = (torch.rand(4, 3, 20, 18, generator=g, dtype=torch.float64) * 255 for _ in range(2))
    assert torch.allclose(step(a + 2 * b, drawn), step(a, drawn) + 2 * step(b, drawn))
    assert torch.allclose(step(a, drawn)[0], a[0]), "no blur, no sharpening: unchanged"
    flat = torch.tensor([40.0, 120.0, 200.0], dtype=torch.float64).view(1, 3, 1, 1).expand(4, 3, 20, 18)
    assert torch.allclose(step(flat, drawn), flat)


def ycc(pictures):
    return torch.einsum("ij,njhw->nihw", torch.tensor(camera.RGB_TO_YCC, dtype=torch.float64), pictures)


def test_the_noise_reduction_blurs_chroma_noise_most_and_sharpening_lifts_luma_noise():
    """Camera JPEG noise: colour noise blurred into blotches, luma noise smoothed a little and
    lifted by sharpening."""
    drawn = look(cameras(3, seed=8), [(2, 0, 0), (0, 0, 1), (0, 0.8, 0)])
    noise = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    before, reduced, sharpened = ycc(noise), ycc(camera.noise_reduction(noise, drawn)), ycc(camera.sharpen(noise, drawn))
    assert reduced[0, 1:].var() < 0.1 * before[0, 1:].var() and torch.allclose(reduced[0, 0], before[0, 0])
    shifted = (reduced[0, 1, :, 1:] * reduced[0, 1, :, :-1]).mean() / reduced[0, 1].var()
    assert shifted > 0.8, "blurred chroma noise is correlated over neighbours"
    assert sharpened[1, 0].var() > 1.5 * before[1, 0].var() and torch.allclose(sharpened[1, 1:], before[1, 1:])
    assert 0.05 * before[2, 0].var() < reduced[2, 0].var() < 0.5 * before[2, 0].var(), "the luma smoothed, not wiped"
    assert torch.allclose(reduced[2, 1:], before[2, 1:])


def test_the_noise_reduction_leaves_the_pictures_edges():
    """It acts on the noise alone (an edge-aware noise reduction, idealised): a noiseless
    edge comes out of the pipeline as sharp as the sharpening makes it, blur or not."""
    edge = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    edge[..., 16:] = 200
    drawn = look(cameras(1, seed=9)[[0, 0]], [(4, 1, 0.5), (0, 0, 0.5)])
    drawn.shot[:], drawn.read[:] = 1e-3, 1e-6
    pair = camera.camera_pair(edge, drawn, torch.Generator().manual_seed(3))
    assert torch.allclose(pair.clean[0], pair.clean[1])


def test_grey_pictures_have_three_equal_channels():
    pictures = smooth_pictures(3, 3, 8, 8)
    grey = camera.grey(pictures)
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    assert torch.allclose(grey[:, 0], (pictures.double() * torch.tensor(camera.LUMA, dtype=torch.float64)
                                       .view(1, 3, 1, 1)).sum(1))


@pytest.mark.parametrize("subsampling", [0, 2])
def test_jpeg_round_trip(subsampling):
    pictures = smooth_pictures(2, 3, 32, 32)
    out = camera.jpeg(pictures, 90, subsampling)
    assert out.dtype == torch.uint8 and out.shape == pictures.shape
    assert 0 < (out.float() - pictures.float()).abs().mean() < 4


@pytest.mark.parametrize("noise", ["camera", "mixture"])
def test_mixture_pairs(noise):
    clean = smooth_pictures(40, 3, 16, 16)
    sigma = torch.full((40,), 20.0)
    noisy, target, reference = camera.mixture_pairs(clean, sigma, torch.Generator().manual_seed(8), True, noise)
    again = camera.mixture_pairs(clean, sigma, torch.Generator().manual_seed(8), True, noise)
    assert torch.equal(noisy, again[0]) and torch.equal(target, again[1])
    assert noisy.dtype == torch.uint8 and target.dtype == torch.float32 and reference.shape == clean.shape
    assert target.min() >= camera.TARGET_RANGE[0] and target.max() <= camera.TARGET_RANGE[1]
    grey = (reference[:, 0] == reference[:, 1]).all((1, 2)) & (reference[:, 1] == reference[:, 2]).all((1, 2))
    assert grey.any() == (noise == "mixture")
    for i in grey.nonzero().flatten():
        assert torch.equal(target[i, 0], target[i, 1]), "a grey picture's noise is the same in each channel"


def test_fresh_pairs_with_camera_noise_depend_on_seed_and_epoch_only():
    clean = smooth_pictures(10, 3, 16, 16)
    a = fresh_pairs(clean, (0, 50), True, seed=1, epoch=2, device="cpu", noise="mixture")
    b = fresh_pairs(clean, (0, 50), True, seed=1, epoch=2, device="cpu", noise="mixture")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], fresh_pairs(clean, (0, 50), True, 1, 3, "cpu", "mixture")[0])


def test_build_with_camera_noise(tmp_path):
    report = data.build(tmp_path, n_train=12, n_val=6, size=16, seed=1, sigma_range=(0, 30),
                        unclipped_targets=True, fresh_noise=True, noise="mixture")
    assert report.train_noise == "mixture"
    noisy, clean = data.load_pairs(tmp_path / data.VAL_FILE, "val")
    assert noisy.shape == clean.shape == (6, 3, 16, 16) and not torch.equal(noisy, clean)
    with pytest.raises(ValueError, match="--fresh-noise"):
        data.build(tmp_path / "b", n_train=4, n_val=2, size=16, sigma_range=(0, 30), noise="camera")
    with pytest.raises(ValueError, match="unknown noise"):
        data.build(tmp_path / "c", n_train=4, n_val=2, size=16, sigma_range=(0, 30), fresh_noise=True,
                   noise="pink")


def test_the_lossless_mixture_is_the_mixture_without_jpeg(monkeypatch):
    """Same draws (kinds, levels, noise), no JPEG: the ablation's only difference."""
    clean = smooth_pictures(30, 3, 16, 16)
    sigma = torch.full((30,), 20.0)
    calls = []
    real_jpeg = camera.jpeg
    monkeypatch.setattr(camera, "jpeg", lambda *args: calls.append(1) or real_jpeg(*args))
    lossy = camera.mixture_pairs(clean, sigma, torch.Generator().manual_seed(3), True, "mixture")
    assert calls, "the mixture sends a share through JPEG"
    calls.clear()
    lossless = camera.mixture_pairs(clean, sigma, torch.Generator().manual_seed(3), True, "mixture-lossless")
    assert not calls and torch.equal(lossy[1], lossless[1]) and torch.equal(lossy[2], lossless[2])
    compressed = (lossy[0] != lossless[0]).flatten(1).any(1)
    assert 0 < compressed.sum() < 30


@pytest.mark.parametrize("settings, match", [
    (dict(shot_range=(0, 1e-3)), "--shot-range"), (dict(shot_range=(1e-2, 1e-3)), "--shot-range"),
    (dict(soften=(-1, 1)), "--soften"), (dict(soften=(1, 0.5)), "--soften"),
    (dict(soften=(0, camera.MAX_SOFTEN + 1)), "--soften")])
def test_camera_settings_refuse_bad_ranges(settings, match):
    with pytest.raises(ValueError, match=match):
        camera.CameraSettings(**settings)


def test_camera_settings_round_trip_through_json():
    settings = camera.CameraSettings(shot_range=[1e-4, 2e-3], soften=[0.3, 1.2])
    assert settings.shot_range == (1e-4, 2e-3) and settings.soften == (0.3, 1.2)
    assert camera.CameraSettings.from_json(asdict(settings)) == settings
    assert camera.CameraSettings.from_json(None) == camera.CameraSettings()


def fine_detail(pictures):
    """Mean squared difference of horizontal neighbours: the finest detail (and noise)."""
    return (pictures[..., 1:] - pictures[..., :-1]).pow(2).mean()


def test_soften_blurs_the_camera_pictures_and_shot_range_sets_their_noise():
    clean = (torch.rand(12, 3, 24, 24, generator=torch.Generator().manual_seed(4)) * 255).to(torch.uint8)
    sigma = torch.zeros(12)

    def pairs(**settings):
        return camera.mixture_pairs(clean, sigma, torch.Generator().manual_seed(5), True, "camera",
                                    camera.CameraSettings(**settings))

    sharp, soft = pairs(shot_range=(1e-4, 1e-4))[2], pairs(shot_range=(1e-4, 1e-4), soften=(1.5, 2))[2]
    assert fine_detail(soft) < 0.2 * fine_detail(sharp), "the noiseless reference is the softened picture"
    light, heavy = (pairs(shot_range=(shot, shot), soften=(2, 2)) for shot in (1e-4, 1e-2))
    assert fine_detail(light[0].float() - light[2]) < fine_detail(heavy[0].float() - heavy[2]) / 4


def test_build_records_the_camera_settings_and_training_draws_with_them(tmp_path):
    settings = camera.CameraSettings(shot_range=(1e-4, 2e-3), soften=(0.3, 1.2))
    data.build(tmp_path, n_train=8, n_val=4, size=16, seed=1, sigma_range=(0, 25),
               unclipped_targets=True, fresh_noise=True, noise="mixture", camera=settings)
    record = json.loads((tmp_path / data.INFO_FILE).read_text())
    assert record["camera"] == {"shot_range": [1e-4, 2e-3], "soften": [0.3, 1.2]}
    pairs = _Pairs(tmp_path, None, seed=3, device="cpu")
    assert pairs.camera == settings and "softened by a blur of 0.3-1.2 px" in pairs.describe()
    clean = data.load_clean(tmp_path / data.TRAIN_CLEAN_FILE)
    expected = fresh_pairs(clean, (0, 25), True, 3, 1, "cpu", "mixture", settings)
    assert all(torch.equal(a, b) for a, b in zip(pairs.epoch(1), expected))
    with pytest.raises(ValueError, match="--soften"):
        data.build(tmp_path / "g", n_train=4, n_val=2, size=16, sigma_range=(0, 25), fresh_noise=True,
                   camera=settings)
