"""The clipped noise model and the colour check of the deep model's pictures
(``Miniproject_2/others/denoisers/clipping.py``)."""
import math

import pytest
import torch

from Miniproject_2.model import Model
from Miniproject_2.others.denoisers import clipping, tiles


def _noisy(clean, sigma, seed=0):
    z = torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (clean.double() + sigma * z).round().clamp(0, 255)


# Named edge values: at each bound, just inside them, mid-range, far outside, tiny and huge sigma.
@pytest.mark.parametrize("mean", [0.0, 3.0, 128.0, 250.0, 255.0, -40.0, 300.0])
@pytest.mark.parametrize("sigma", [0.01, 5.0, 50.0, 200.0])
def test_clipped_moments_match_numerical_integration(mean, sigma):
    z = torch.linspace(-12, 12, 400_001, dtype=torch.float64)
    weight = (-z * z / 2).exp() / math.sqrt(2 * math.pi) * (z[1] - z[0])
    clipped = (mean + sigma * z).clamp(0, 255)
    expected_mean = (weight * clipped).sum()
    expected_var = (weight * (clipped - expected_mean) ** 2).sum()
    first, variance = clipping.clipped_moments(torch.tensor([mean], dtype=torch.float64),
                                               torch.tensor([sigma], dtype=torch.float64))
    assert first.item() == pytest.approx(expected_mean.item(), abs=1e-6 * max(sigma, 1))
    assert variance.item() == pytest.approx(expected_var.item(), abs=1e-5 * max(sigma, 1) ** 2)


# Deep in the lower tail, around 0, in the tail, and on both sides of the series' threshold.
@pytest.mark.parametrize("h", [-30.0, -3.0, 0.0, 2.5, 7.9, 8.1, 12.0, 40.0])
def test_mills_ratio_is_the_tails_mean_in_float32(h):
    # pdf(h) / (1 - cdf(h)) = h + E[z - h | z > h], integrated on a fine grid past h in float64.
    t = torch.linspace(0, 40 / max(1.0, h), 400_001, dtype=torch.float64)
    density = (-(h + t) ** 2 / 2 + h * h / 2).exp()
    expected = h + torch.trapezoid(t * density, t) / torch.trapezoid(density, t)
    found = clipping._mills_ratio(torch.tensor([h]))
    assert torch.isfinite(found).all()
    assert found.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("sigma", [0.0, 5.0, 25.0, 50.0])
@pytest.mark.parametrize("level", [20.0, 128.0, 240.0])
def test_estimate_sigma_sees_through_clipping(sigma, level):
    # Flat pictures near a bound lose up to half their noise to clipping; the estimate,
    # told the clean picture, still finds the level the noise was drawn at.
    clean = torch.full((2, 3, 64, 64), level)
    found = clipping.estimate_sigma(_noisy(clean, sigma), clean)
    assert found.shape == (2, 1, 1)
    # Rounding to whole levels adds 1/12 of a level squared to noise; the bisection
    # brackets within 255 / 2**12.
    truth = math.sqrt(sigma ** 2 + 1 / 12) if sigma else 0.0
    assert found.flatten().tolist() == pytest.approx([truth] * 2, abs=0.02 * sigma + 0.07)


@pytest.mark.parametrize("level", [5.0, 128.0, 245.0])
def test_a_colour_offset_is_taken_back(level):
    # A denoiser that got every pixel right but the colour: each channel offset.
    clean = torch.full((4, 3, 64, 64), level)
    clean[:, :, :, 32:] += torch.tensor([-5.0, 0.0, 5.0]).view(1, 3, 1, 1)
    clean.clamp_(0, 255)
    noisy = _noisy(clean, 40.0)
    offset = torch.tensor([3.0, -4.0, 1.5]).view(1, 3, 1, 1)
    shifted = (clean + offset).clamp(0, 255)
    matched = clipping.match_colour(noisy, shifted.clone())
    # Left: the noise's own mean offset, 40 / sqrt(4096) = 0.6 levels, and less at the bounds.
    error = (matched - clean).mean((2, 3)).abs()
    assert error.max() < 2.5 * 40 / 64 and error.mean() < 40 / 64


@pytest.mark.parametrize("sigma", [3.0, 25.0, 60.0])
def test_the_shift_is_the_most_likely_one(sigma):
    # Pictures near black, near white, mid-grey and spanning the range, each denoised
    # picture off by a different colour: the shift must be where a fine grid of the
    # float64 log-likelihood peaks (whole pictures, so the sample is every pixel).
    generator = torch.Generator().manual_seed(int(sigma))
    levels = torch.tensor([8.0, 247.0, 128.0]).view(3, 1, 1, 1)
    clean = (levels + 12 * torch.randn(3, 3, 12, 12, generator=generator, dtype=torch.float64)).clamp(0, 255)
    clean = torch.cat([clean, torch.linspace(0, 255, 144, dtype=torch.float64).view(1, 1, 12, 12).expand(1, 3, 12, 12)])
    noisy = _noisy(clean, sigma, seed=int(sigma))
    denoised = (clean + torch.tensor([4.0, -6.0, 2.5]).view(1, 3, 1, 1)).clamp(0, 255)
    x, y = noisy.flatten(2), denoised.flatten(2)
    grid = torch.arange(-40, 40, 0.005, dtype=torch.float64).view(-1, 1, 1, 1)
    clean_of = y + grid
    normal = torch.distributions.Normal(0.0, 1.0)
    likelihood = torch.where(x >= 255, normal.cdf((clean_of - 254.5) / sigma).log(),
                             torch.where(x <= 0, normal.cdf((0.5 - clean_of) / sigma).log(),
                                         -((x - clean_of) / sigma) ** 2 / 2)).sum(3)
    best = grid.flatten()[likelihood.argmax(0)]
    score = clipping._score(x.float(), y.float(), (x.mean(2, keepdim=True) - y.mean(2, keepdim=True)).float())
    found = clipping._shift(score, torch.full((4, 1, 1), sigma), torch.zeros(4, 3, 1))
    assert (found.squeeze(2).double() - best).abs().max() < 0.01


def test_a_saturated_sky_comes_back_white():
    # Half of a white picture's noisy pixels sit at 255: the most likely clean picture is
    # white, wherever the denoiser left it.
    white = torch.full((1, 3, 32, 32), 255.0)
    out = clipping.match_colour(_noisy(white, 30.0), torch.full_like(white, 238.0))
    assert out.min() > 250.5


def test_a_clean_picture_keeps_its_colour_and_a_right_one_moves_little():
    clean = (torch.rand(3, 3, 40, 50, generator=torch.Generator().manual_seed(1)) * 255).round()
    assert (clipping.match_colour(clean, clean.clone()) - clean).abs().max() < 0.01
    noisy = _noisy(clean, 25.0)
    shift = clipping.colour_shift_of(noisy, clean)
    assert shift.shape == (3, 3, 1, 1) and shift.abs().max() < 3 * 25 / math.sqrt(2000)


def test_match_colour_works_in_place_on_any_dtype_and_bounds_its_work(monkeypatch):
    clean = torch.full((5, 3, 16, 16), 200.0)
    noisy = _noisy(clean, 30.0).to(torch.uint8)
    out_float, out_uint8 = (clean + 7).clone(), (clean + 7).to(torch.uint8)
    assert clipping.match_colour(noisy, out_float) is out_float
    assert clipping.match_colour(noisy, out_uint8) is out_uint8
    assert torch.equal(out_uint8, out_float.round().to(torch.uint8))
    # The same result in chunks of one picture and sampled statistics: only a sample's precision apart.
    monkeypatch.setattr(tiles, "BATCH_PIXELS", 16 * 16)
    monkeypatch.setattr(clipping, "SAMPLE", 64)
    chunked = clipping.match_colour(noisy, (clean + 7).clone())
    assert (chunked - out_float).abs().max() < 30 / 8
    assert out_float.min() >= 0 and out_float.max() <= 255


def test_a_saturated_picture_stays_in_range():
    white = torch.full((1, 3, 32, 32), 255.0)
    noisy = _noisy(white, 50.0)
    out = clipping.match_colour(noisy, torch.full_like(white, 230.0))
    assert out.min() >= 230 and out.max() <= 255 and torch.isfinite(out).all()


def test_the_deep_model_sets_its_colours_right_and_the_required_one_is_untouched():
    # Bright and dark channels at sigma 50: the network alone leaves them 3 to 8 levels
    # off (it undoes the clipping only roughly). With a third of the pixels clipped, the
    # colour that the noisy picture witnesses is itself uncertain: over 30 draws of this
    # noise the matched channels were 0.7 levels off (root mean square), so six stay
    # within three times that.
    clean = torch.full((2, 3, 96, 96), 235.0)
    clean[:, 2] = 20.0
    noisy = _noisy(clean, 50.0, seed=3).to(torch.uint8)
    deep = Model(arch="deep")
    deep.load_pretrained_model()
    error = (deep.predict(noisy) - clean).mean((2, 3)).abs()
    raw_error = (deep._denoise(noisy) - clean).mean((2, 3)).abs()
    assert error.max() < 2.1 and error.mean() < raw_error.mean() / 4, f"colour errors {error.tolist()} levels"
    required = Model()
    required.load_pretrained_model()
    raw = required.predict(noisy)
    assert torch.equal(raw, required._denoise(noisy))
