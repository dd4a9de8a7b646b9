"""Detail the denoiser took for noise given back where the noise is correlated
(``Miniproject_2/others/denoisers/detail.py``, called by ``shrinkage.shrink_to_input``)."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from helpers import blurred_noise, box_denoiser, gaussian_noise
from Miniproject_2.others.denoisers import detail, shrinkage


def _expected(noisy, out, levels):
    """The module's rule with torch's average pooling (the window cut at the picture's edges)."""
    energy = (out.double() - noisy.double()).square().mean(1, keepdim=True)
    r2 = F.avg_pool2d(energy, detail.WINDOW, 1, detail.WINDOW // 2, count_include_pad=False)
    floor = (detail.RATIO * levels.double().view(-1, 1, 1, 1)) ** 2
    weight = (1 - floor / r2.clamp(min=1e-300)).clamp(min=0)
    return (out.double() + weight * (noisy.double() - out.double())).clamp(0, 255)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 90), w=st.integers(1, 40), level=st.floats(0.5, 20),
       seed=st.integers(0, 2 ** 16))
def test_any_size_gets_the_rule_over_windows_cut_at_the_edges(n, h, w, level, seed):
    noisy = torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 255
    out = (noisy + gaussian_noise(noisy.shape, 30, seed)).clamp(0, 255)
    levels = torch.full((n,), level)
    expected = _expected(noisy, out, levels).float()
    assert torch.allclose(detail.give_back_detail(noisy, out.clone(), levels), expected, atol=1e-3)


def test_bands_of_rows_give_what_one_pass_gives(monkeypatch):
    noisy = torch.rand(1, 3, 150, 37, generator=torch.Generator().manual_seed(1)) * 255
    out = (noisy + gaussian_noise(noisy.shape, 30)).clamp(0, 255)
    whole = detail.give_back_detail(noisy, out.clone(), torch.tensor([5.0]))
    monkeypatch.setattr(detail, "BAND", detail.WINDOW // 2 + 1)
    assert torch.allclose(detail.give_back_detail(noisy, out.clone(), torch.tensor([5.0])), whole, atol=1e-4)


def test_a_residual_of_noise_alone_changes_nothing():
    # The denoiser gave the clean picture back: its residual is the noise, at the level given.
    clean = torch.full((2, 3, 48, 48), 120.0)
    noisy = clean + gaussian_noise(clean.shape, 4.0)
    out = clean.clone()
    assert torch.equal(detail.give_back_detail(noisy, out, torch.tensor([4.0, 4.0])), clean)


def test_a_level_of_zero_leaves_the_picture_alone():
    noisy = torch.rand(2, 3, 20, 20) * 255
    out = torch.full_like(noisy, 128.0)
    result = detail.give_back_detail(noisy, out.clone(), torch.tensor([0.0, 3.0]))
    assert torch.equal(result[0], out[0]) and not torch.equal(result[1], out[1])


def test_a_mesh_taken_for_noise_comes_back_and_the_flat_part_stays():
    i, j = torch.arange(64).view(-1, 1), torch.arange(64).view(1, -1)
    clean = (100.0 + 40.0 * ((i + j) % 3 == 0).float()).expand(1, 3, 64, 64).clone()
    clean[..., :, :32] = 100.0
    noisy = clean + gaussian_noise(clean.shape, 2.0)
    flattened = torch.full_like(clean, 100.0 + 40.0 / 3)
    flattened[..., :, :32] = 100.0
    out = detail.give_back_detail(noisy, flattened.clone(), torch.tensor([2.0]))
    mse = lambda a, b: (a - b)[..., 8:-8, 40:].square().mean().item()
    assert mse(flattened, clean) > 50 * mse(noisy, clean)
    assert mse(out, clean) < 2 * mse(noisy, clean)
    assert torch.equal(out[..., :, :16], flattened[..., :, :16])


def test_an_integer_output_is_rounded():
    noisy = torch.randint(0, 256, (1, 3, 24, 24), generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    out = torch.full_like(noisy, 128)
    expected = _expected(noisy, out, torch.tensor([2.0])).round().to(torch.uint8)
    assert torch.equal(detail.give_back_detail(noisy, out, torch.tensor([2.0])), expected)


@pytest.mark.parametrize("correlated", [True, False])
def test_shrink_to_input_checks_the_detail_of_correlated_noise_only(correlated, monkeypatch):
    clean = torch.full((1, 3, 64, 64), 110.0)
    # A 5 x 5 blur of white noise and a 9 x 9 box: the residual's neighbours correlate by about 0.7.
    noise = blurred_noise(clean.shape, 3.0) if correlated else gaussian_noise(clean.shape, 30.0)
    noisy = clean + noise
    raw = box_denoiser(9)(noisy, torch.empty(noisy.shape))
    seen = []
    monkeypatch.setattr(shrinkage, "give_back_detail", lambda x, out, levels: seen.append(levels.clone()))
    shrinkage.shrink_to_input(noisy, raw.clone(), box_denoiser(9))
    assert (seen[0] > 0).all() if correlated else (seen[0] == 0).all()
