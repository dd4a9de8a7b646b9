"""``predict(x, strength=s)`` above 1 (``Miniproject_2/others/denoisers/strength.py``): the blind
result's coefficients shrunk, then a collaborative Wiener filter of the input with it as pilot."""
import pytest
import torch
import torch.nn.functional as F

from helpers import blurred_noise, gaussian_noise
from Miniproject_2.model import Model
from Miniproject_2.others.denoisers import strength
from Miniproject_2.others.denoisers.collaborative import collaborative_wiener
from Miniproject_2.others.denoisers.shrinkage import noise_level
from Miniproject_2.others.denoisers.smoothing import SCALE, shrink_coefficients


def _pictures(n, h, w, seed=0):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 255


def test_both_stages_scale_with_strength_above_one_and_the_measured_level():
    clean = _pictures(1, 64, 64, seed=1)
    noisy = clean + blurred_noise(clean.shape, 4.0, seed=2)
    blind = (clean + blurred_noise(clean.shape, 1.5, seed=3)).clamp(0, 255)
    level = noise_level(noisy, blind)
    pilot = shrink_coefficients(blind, level * (SCALE * 1.5))
    expected = collaborative_wiener(noisy, pilot, level * (strength.WIENER * 1.5))
    assert torch.equal(strength.smooth_more(noisy, blind, 2.5), expected)
    # Below 2, part of the way from the first stage to the filter.
    pilot = shrink_coefficients(blind, level * (SCALE * 0.25))
    filtered = collaborative_wiener(noisy, pilot, level * (strength.WIENER * 0.25))
    assert torch.allclose(strength.smooth_more(noisy, blind, 1.25), pilot + 0.25 * (filtered - pilot), atol=1e-4)
    tiny = _pictures(1, 2, 9)
    assert torch.equal(strength.smooth_more(tiny, tiny, 3.0), tiny)
    # A colour ratio of its own reaches both stages.
    pilot = shrink_coefficients(blind, level * (SCALE * 1.5), 6.0)
    expected = collaborative_wiener(noisy, pilot, level * (strength.WIENER * 1.5), 6.0)
    assert torch.equal(strength.smooth_more(noisy, blind, 2.5, 6.0), expected)


def test_a_little_more_smoothing_takes_the_noise_a_blind_result_left_off():
    clean = torch.full((1, 3, 64, 64), 128.0)
    clean[..., 20:44, 20:44] = 60.0
    noisy = clean + blurred_noise(clean.shape, 6.0, seed=4)
    blind = (clean + blurred_noise(clean.shape, 2.0, seed=5)).clamp(0, 255)
    error = (strength.smooth_more(noisy, blind, 1.5) - clean).square().mean()
    assert error < 0.75 * (blind - clean).square().mean()


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_predict_above_strength_one_smooths_its_blind_result(dtype):
    model = Model(arch="deep", channels=(4, 4))
    noisy = _pictures(2, 24, 40, seed=4).round().to(dtype)
    blind = model.predict(noisy)
    expected = strength.smooth_more(noisy.float(), blind, 2.0)
    assert torch.allclose(model.predict(noisy, strength=2), expected, atol=1e-4)
    rounded = model.predict(noisy, out=torch.empty_like(noisy), strength=2)
    assert (rounded.float() - expected).abs().max() <= 0.5 + 1e-4


def test_auto_smooths_light_coarse_noise_and_leaves_white_or_heavy_noise_to_the_blind_result():
    clean = torch.full((1, 3, 64, 64), 120.0)
    clean[..., 16:48, 8:40] = 70.0
    white = clean + torch.randn(clean.shape, generator=torch.Generator().manual_seed(6)) * 4
    coarse = clean + blurred_noise(clean.shape, 4.0, seed=7)
    heavy = clean + blurred_noise(clean.shape, 2 * strength.GATE, seed=8)
    noisy = torch.cat([white, coarse, heavy])
    # A blind result that took all of the noise: the residual is the noise itself.
    blind = clean.expand(3, -1, -1, -1)
    assert strength.auto_strengths(noisy, blind).tolist() == [1.0, strength.CAMERA_STRENGTH, 1.0]
    assert strength.auto_strengths(noisy[..., :2, :], blind[..., :2, :]).tolist() == [1.0, 1.0, 1.0]


def _camera_jpeg_noise(shape, seed):
    """A camera JPEG's noise: the luma's correlated over a few pixels, the colour's in coarse
    blotches without fine grain."""
    n, _, h, w = shape
    luma = blurred_noise((n, 1, h, w), 4.0, seed).expand(shape)
    blotches = F.avg_pool2d(blurred_noise(shape, 2.0, seed + 1), 5, stride=1, padding=2, count_include_pad=False)
    return luma + blotches


def test_auto_takes_coarse_colour_without_fine_grain_for_a_camera_jpegs():
    clean = torch.full((1, 3, 64, 64), 120.0)
    clean[..., 16:48, 8:40] = 70.0
    white = clean + gaussian_noise(clean.shape, 4.0, 11)
    coarse = clean + blurred_noise(clean.shape, 4.0, seed=12)
    jpeg = clean + _camera_jpeg_noise(clean.shape, 13)
    noisy = torch.cat([white, coarse, jpeg])
    blind = clean.expand(3, -1, -1, -1)
    assert strength.jpeg_colour(noisy, blind).tolist() == [False, False, True]
    assert strength.jpeg_colour(noisy[..., :2, :], blind[..., :2, :]).tolist() == [False, False, False]


def test_predict_auto_smooths_a_camera_jpegs_colour_harder(monkeypatch):
    model = Model(arch="deep", channels=(4, 4))
    noisy = _pictures(3, 40, 48, seed=10).round()
    blind = model.predict(noisy)
    expected = torch.cat([strength.smooth_more(noisy[:1], blind[:1], strength.CAMERA_STRENGTH, strength.CAMERA_COLOUR),
                          strength.smooth_more(noisy[1:2], blind[1:2], strength.CAMERA_STRENGTH), blind[2:]])
    monkeypatch.setattr(strength, "auto_strengths", lambda noisy, blind: torch.tensor([1.5, 1.5, 1.0]))
    # Asked of the pictures auto smooths more only.
    monkeypatch.setattr(strength, "jpeg_colour", lambda noisy, blind: torch.tensor([True, False]))
    assert torch.allclose(model.predict(noisy, strength="auto"), expected, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_predict_auto_gives_each_picture_the_strength_chosen_for_it(dtype, monkeypatch):
    model = Model(arch="deep", channels=(4, 4))
    noisy = _pictures(3, 40, 48, seed=9).round().to(dtype)
    chosen = torch.tensor([strength.CAMERA_STRENGTH, 1.0, strength.CAMERA_STRENGTH])
    expected = torch.cat([model.predict(noisy[i:i + 1], strength=float(s)) for i, s in enumerate(chosen)])
    monkeypatch.setattr(strength, "auto_strengths", lambda noisy, blind: chosen)
    assert torch.allclose(model.predict(noisy, strength="auto"), expected, atol=1e-4)
    rounded = model.predict(noisy, out=torch.empty_like(noisy), strength="auto")
    assert (rounded.float() - expected).abs().max() <= 0.5 + 1e-4


@pytest.mark.parametrize("bad", ["Auto", "2", None, True, -0.5, 4.5, float("nan")])
def test_strength_is_a_number_in_range_or_auto(bad):
    assert strength.check_strength("auto", "predict") == "auto"
    assert strength.check_strength(2, "predict") == 2.0
    with pytest.raises(ValueError, match="strength must be"):
        strength.check_strength(bad, "predict")
