"""Blending a blind denoiser's output back toward a lightly noisy input
(``Miniproject_2/others/denoisers/shrinkage.py``)."""
import math

import pytest
import torch

from helpers import box_denoiser, gaussian_noise
from Miniproject_2.model import Model
from Miniproject_2.others.denoisers import shrinkage, tiles


def _divergence(noisy, denoise):
    pattern = shrinkage.probe(noisy.shape[1:], noisy.device)
    y, again = torch.empty(noisy.shape), torch.empty(noisy.shape)
    denoise(noisy, y)
    denoise(noisy + pattern, again)
    return y, (again - y) * pattern


def _mse(a, b):
    return (a.double() - b.double()).square().mean().item()


def test_the_probe_is_a_fixed_balanced_sign_pattern_that_leaves_the_random_state_alone():
    state = torch.random.get_rng_state()
    pattern = shrinkage.probe((3, 300, 200), torch.device("cpu"))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert pattern.shape == (3, 300, 200) and pattern.dtype == torch.float32
    assert set(pattern.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(pattern, shrinkage.probe((3, 300, 200), torch.device("cpu")))
    period = shrinkage.PERIOD
    assert torch.equal(pattern[:, period:2 * period, :period], pattern[:, :period, :period])
    tile = pattern[:, :period, :period]
    assert abs(tile.mean().item()) < 0.02
    # Neighbours' signs must not go together (they share a window of the denoiser).
    assert abs((tile[:, 1:] * tile[:, :-1]).mean().item()) < 0.02
    assert abs((tile[:, :, 1:] * tile[:, :, :-1]).mean().item()) < 0.02
    assert abs((tile[1:] * tile[:-1]).mean().item()) < 0.02
    # Pictures smaller than the tile take its corner.
    assert torch.equal(shrinkage.probe((3, 5, 7), torch.device("cpu")), pattern[:, :5, :7])


@pytest.mark.parametrize("sigma", [1.0, 5.0, 20.0])
@pytest.mark.parametrize("width", [3, 5])
def test_the_noise_level_of_a_local_average_is_found(sigma, width):
    # A flat picture through a box filter: the residual keeps 1 - 1/width**2 of the noise's
    # variance, which the divergence measures and puts back.
    clean = torch.full((2, 3, 96, 96), 128.0)
    noisy = clean + gaussian_noise(clean.shape, sigma)
    y, divergence = _divergence(noisy, box_denoiser(width))
    found = shrinkage.noise_level(noisy, y, divergence) / shrinkage.CALIBRATION
    assert found.shape == (2,)
    assert found.tolist() == pytest.approx([sigma] * 2, rel=0.05)
    # Without the divergence the level is measured low, never high.
    blind = shrinkage.noise_level(noisy, y) / shrinkage.CALIBRATION
    assert (blind < found).all() and (blind > sigma * math.sqrt(1 - 1 / width ** 2) * 0.9).all()


def test_the_level_is_measured_where_the_picture_is_flat():
    # Half the picture is a fine texture that the box filter wipes out: it must not count
    # as noise.
    clean = torch.full((1, 3, 64, 64), 100.0)
    clean[..., 32:, :] += 40.0 * (torch.arange(64) % 2).float()
    noisy = clean + gaussian_noise(clean.shape, 3.0)
    y, divergence = _divergence(noisy, box_denoiser(3))
    found = shrinkage.noise_level(noisy, y, divergence) / shrinkage.CALIBRATION
    assert found.item() == pytest.approx(3.0, rel=0.1)
    assert (noisy - y).square().mean().sqrt().item() > 10


def test_a_texture_the_denoiser_wipes_out_comes_back():
    # A clean diagonal texture beside a flat half, with light noise: the box filter takes
    # the texture for noise, and its output is far worse than its input; the blend gives
    # most of it back (a little of the texture's residual passes for noise).
    i, j = torch.arange(64).view(-1, 1), torch.arange(64).view(1, -1)
    clean = (100.0 + 30.0 * ((i + 2 * j) % 5 == 0).float()).expand(2, 3, 64, 64).clone()
    clean[..., :32, :] = 100.0
    noisy = (clean + gaussian_noise(clean.shape, 2.0)).round()
    denoise = box_denoiser(3)
    raw = denoise(noisy, torch.empty(noisy.shape))
    out = shrinkage.shrink_to_input(noisy, raw.clone(), denoise)
    assert _mse(raw, clean) > 10 * _mse(noisy, clean)
    assert _mse(out, clean) < 1.6 * _mse(noisy, clean)


def test_a_clean_picture_comes_back_almost_unchanged():
    i, j = torch.arange(48).view(-1, 1), torch.arange(48).view(1, -1)
    clean = (90.0 + 50.0 * ((i + 2 * j) % 5 == 0).float()).expand(1, 3, 48, 48).clone()
    clean[..., :24, :] = 90.0
    denoise = box_denoiser(3)
    out = shrinkage.shrink_to_input(clean, denoise(clean, torch.empty(clean.shape)), denoise)
    assert 10 * math.log10(255 ** 2 / max(_mse(out, clean), 1e-12)) > 45


@pytest.mark.parametrize("sigma", [2.0, 6.0])
def test_a_good_denoiser_is_kept_at_low_noise(sigma):
    # A smooth picture that the box filter denoises well: the blend must not give the
    # gain away (SURE puts the weight near 1).
    x = torch.linspace(0, 1, 64)
    clean = (60 + 80 * x.view(-1, 1) * x.view(1, -1)).expand(2, 3, 64, 64).clone()
    noisy = clean + gaussian_noise(clean.shape, sigma, seed=1)
    denoise = box_denoiser(5)
    raw = denoise(noisy, torch.empty(noisy.shape))
    out = shrinkage.shrink_to_input(noisy, raw.clone(), denoise)
    assert _mse(out, clean) < 1.05 * _mse(raw, clean) < _mse(noisy, clean)


def test_heavy_noise_is_left_alone_without_a_second_pass():
    clean = torch.full((3, 3, 40, 40), 128.0)
    noisy = clean + gaussian_noise(clean.shape, 25.0)
    box, calls = box_denoiser(5), []

    def denoise(images, into):
        calls.append(images.shape)
        return box(images, into)

    raw = box(noisy, torch.empty(noisy.shape))
    out = shrinkage.shrink_to_input(noisy, raw.clone(), denoise)
    assert torch.equal(out, raw) and calls == []


def test_only_the_lightly_noisy_pictures_are_run_again_and_chunks_agree(monkeypatch):
    clean = torch.full((4, 3, 32, 32), 120.0)
    noisy = clean + torch.stack([gaussian_noise(clean.shape[1:], s, seed=k) for k, s in enumerate([2.0, 30.0, 4.0, 40.0])])
    box, calls = box_denoiser(3), []

    def denoise(images, into):
        calls.append(images.shape[0])
        return box(images, into)

    raw = box(noisy, torch.empty(noisy.shape))
    whole = shrinkage.shrink_to_input(noisy, raw.clone(), denoise)
    assert calls == [2]
    assert torch.equal(whole[[1, 3]], raw[[1, 3]])
    monkeypatch.setattr(tiles, "BATCH_PIXELS", 32 * 32)
    assert torch.equal(shrinkage.shrink_to_input(noisy, raw.clone(), box), whole)


def test_a_tall_picture_gets_the_weight_stein_gives_and_its_input_is_left_alone():
    # Taller than the probe's period, not a multiple of it: the passes go in bands of rows.
    i, j = torch.arange(2 * shrinkage.PERIOD + 37).view(-1, 1), torch.arange(40).view(1, -1)
    clean = (90.0 + 30.0 * ((i + 2 * j) % 5 == 0).float()).expand(1, 3, -1, -1).clone()
    clean[..., :20] = 90.0
    noisy = clean + gaussian_noise(clean.shape, 3.0)
    kept = noisy.clone()
    denoise = box_denoiser(3)
    y, divergence = _divergence(noisy, denoise)
    sigma = shrinkage.noise_level(noisy, y, divergence)
    weight = (sigma ** 2 * (1 - divergence.mean()) / (y - noisy).square().mean()).clamp(0, 1)
    assert 0 < weight.item() < 1
    out = shrinkage.shrink_to_input(noisy, y.clone(), denoise)
    assert torch.equal(noisy, kept)
    assert torch.allclose(out, noisy + weight * (y - noisy), atol=1e-3)


def test_an_integer_output_is_rounded_in_place():
    clean = torch.full((2, 3, 32, 32), 50.0)
    noisy = (clean + gaussian_noise(clean.shape, 3.0)).round().clamp(0, 255).to(torch.uint8)
    denoise = box_denoiser(3)
    raw = denoise(noisy, torch.empty(noisy.shape))
    out = raw.round().to(torch.uint8)
    result = shrinkage.shrink_to_input(noisy, out, denoise)
    assert result is out and out.dtype == torch.uint8
    expected = shrinkage.shrink_to_input(noisy, raw.round(), denoise)
    assert (out.float() - expected).abs().max() <= 0.5 + 1e-4


def test_the_deep_model_gives_back_a_fine_texture_at_low_noise():
    # Thin aliased diagonals of 20 levels at sigma 5: the blind U-Net alone smooths them
    # away, and its picture is further from the clean one than the noisy input was.
    i, j = torch.arange(32).view(-1, 1), torch.arange(32).view(1, -1)
    clean = (100.0 + 20.0 * ((i + 2 * j) % 5 == 0).float()).expand(4, 3, 32, 32).clone()
    noisy = (clean + gaussian_noise(clean.shape, 5.0)).round().clamp(0, 255)
    deep = Model(arch="deep")
    deep.load_pretrained_model()
    assert _mse(deep._denoise(noisy), clean) > _mse(noisy, clean)
    assert _mse(deep.predict(noisy), clean) < _mse(noisy, clean)


def _shot_noise_picture(alpha, beta, seed=0):
    """Flat bands from dark to bright under noise of variance ``alpha v + beta``."""
    levels = torch.tensor([20.0, 60.0, 110.0, 160.0, 220.0]).repeat_interleave(24)
    clean = levels.view(1, 1, 1, -1).expand(2, 3, 96, -1).clone()
    return clean, clean + (alpha * clean + beta).sqrt() * gaussian_noise(clean.shape, 1.0, seed)


def test_shot_noise_is_measured_as_a_line_in_brightness():
    clean, noisy = _shot_noise_picture(2.0, 9.0)
    y, divergence = _divergence(noisy, box_denoiser(3))
    alpha, beta = shrinkage.noise_variance(noisy, y, divergence)
    scale = shrinkage.CALIBRATION ** 2
    assert (alpha / scale).tolist() == pytest.approx([2.0] * 2, rel=0.2)
    assert (beta / scale).tolist() == pytest.approx([9.0] * 2, abs=12)
    # The level is the root mean square one, that of the mean brightness.
    level = shrinkage.noise_level(noisy, y, divergence)
    assert level.tolist() == pytest.approx((alpha * clean.mean() + beta).sqrt().tolist(), rel=0.01)


@pytest.mark.parametrize("seed", range(5))
def test_gaussian_noise_keeps_one_level(seed):
    # No slope under Gaussian noise: the level is the ratio of means it always was.
    clean, noisy = _shot_noise_picture(0.0, 16.0, seed)
    y, divergence = _divergence(noisy, box_denoiser(3))
    alpha, beta = shrinkage.noise_variance(noisy, y, divergence)
    assert alpha.tolist() == [0.0, 0.0]
    residual, _, d = shrinkage._flat_samples(noisy, y, divergence)
    expected = residual.square().mean((1, 2)) / (1 - d.mean((1, 2))) * shrinkage.CALIBRATION ** 2
    assert torch.allclose(beta, expected)


def test_under_shot_noise_each_pixel_weighs_its_own_variance():
    clean, noisy = _shot_noise_picture(0.3, 1.0)
    denoise = box_denoiser(5)
    y, divergence = _divergence(noisy, denoise)
    alpha, beta = shrinkage.noise_variance(noisy, y, divergence)
    assert (alpha > 0).all() and (shrinkage.noise_level(noisy, y, divergence) < shrinkage.GATE).all()
    keep = ((alpha.view(-1, 1, 1, 1) * y + beta.view(-1, 1, 1, 1)) * (1 - divergence)).sum((1, 2, 3))
    weight = (keep / (y - noisy).square().sum((1, 2, 3))).clamp(0, 1).view(-1, 1, 1, 1)
    out = shrinkage.shrink_to_input(noisy, y.clone(), denoise)
    assert torch.allclose(out, noisy + weight * (y - noisy), atol=1e-3)


def test_noise_correlated_between_neighbours_is_left_to_the_denoiser():
    """Demosaiced-like noise (white noise averaged over 2x2 blocks, so that neighbours share
    half their noise) is not what Stein's estimate assumes: such pictures keep the denoiser's
    output without a second pass; white noise of the same level gets its blend."""
    clean = torch.full((2, 3, 64, 64), 120.0)
    white = gaussian_noise(clean.shape, 6.0, seed=1)
    correlated = torch.nn.functional.avg_pool2d(gaussian_noise((2, 3, 65, 65), 12.0, seed=2), 2, 1)
    box = box_denoiser(9)
    for noise, kept in ((white, False), (correlated, True)):
        noisy = clean + noise
        raw = box(noisy, torch.empty(noisy.shape))
        correlation = shrinkage.neighbour_correlation(noisy, raw)
        assert ((correlation >= shrinkage.CORRELATED) == kept).all(), correlation
        calls = []
        out = shrinkage.shrink_to_input(noisy, raw.clone(), lambda images, into: calls.append(1) or box(images, into))
        assert (calls == []) == kept
        if kept:
            assert torch.equal(out, raw)


def test_the_residual_of_white_noise_is_nearly_uncorrelated():
    clean = torch.full((4, 3, 48, 48), 90.0)
    noisy = clean + gaussian_noise(clean.shape, 5.0, seed=3)
    assert shrinkage.neighbour_correlation(noisy, clean).abs().max() < 0.1
    neighbours, channels = shrinkage.residual_correlations(noisy, clean)
    assert torch.equal(neighbours, shrinkage.neighbour_correlation(noisy, clean)), "one sample for both"
    assert channels.abs().max() < 0.1
    level, neighbours = shrinkage.level_and_correlation(noisy, clean)
    assert torch.equal(level, shrinkage.noise_level(noisy, clean)), "one sample for both"
    assert torch.equal(neighbours, shrinkage.neighbour_correlation(noisy, clean))


def test_the_colour_grain_of_white_noise_is_its_level_and_a_grey_picture_has_none():
    clean = torch.full((4, 3, 48, 48), 90.0)
    noisy = clean + gaussian_noise(clean.shape, 5.0, seed=4)
    # Each colour difference of white noise has the noise's level, and less the mean of four
    # independent neighbours 1.25 times its variance.
    level, grain = shrinkage.level_and_colour_grain(noisy, clean)
    assert torch.equal(level, shrinkage.noise_level(noisy, clean)), "one sample for both"
    assert torch.allclose(grain, torch.full((4,), 5.0 * math.sqrt(1.25)), rtol=0.1)
    grey = noisy[:, :1].expand(4, 3, 48, 48)
    assert torch.equal(shrinkage.level_and_colour_grain(grey, clean)[1], torch.zeros(4))
