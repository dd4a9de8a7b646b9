"""Smoothing beyond the blind result, its first stage: the weak cosine-transform coefficients of the denoised
picture shrunk (``Miniproject_2/others/denoisers/smoothing.py``), ``predict``'s ``strength > 1``."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from helpers import blurred_noise
from Miniproject_2.others.denoisers import smoothing


def _pictures(n, h, w, seed=0):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed)) * 255


def test_the_cosine_transform_is_orthonormal():
    for n in (1, 8, smoothing.BLOCK):
        dct = smoothing.dct_matrix(n, torch.empty(0, dtype=torch.float64))
        assert torch.allclose(dct @ dct.t(), torch.eye(n, dtype=torch.float64), atol=1e-12)
        # Row 0 is the mean; row k has k sign changes.
        assert torch.allclose(dct[0], torch.full((n,), 1 / math.sqrt(n), dtype=torch.float64))
        signs = dct.sign()
        assert torch.equal((signs[:, 1:] != signs[:, :-1]).sum(1), torch.arange(n))


def test_the_opponent_colours_are_an_orthonormal_change_of_basis():
    matrix = smoothing.opponent_matrix(torch.empty(0, dtype=torch.float64))
    assert torch.allclose(matrix @ matrix.t(), torch.eye(3, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("size, before, after", [(5, 24, 27), (1, 3, 4), (2, 24, 30), (40, 24, 24)])
def test_mirrored_indices_stay_inside_and_do_not_repeat_the_edge(size, before, after):
    index = smoothing._mirror(size, before, after, torch.device("cpu"))
    assert index.shape == (size + before + after,)
    assert index.min() >= 0 and index.max() < size
    assert torch.equal(index[before:before + size], torch.arange(size))
    if size > 1:
        assert index[before - 1] == 1 and index[before + size] == size - 2


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 70), w=st.integers(1, 70), seed=st.integers(0, 2 ** 16))
def test_a_zero_threshold_leaves_every_picture_as_it_is(n, h, w, seed):
    pictures = _pictures(n, h, w, seed)
    assert torch.equal(smoothing.shrink_coefficients(pictures, torch.zeros(n)), pictures)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 80), w=st.integers(1, 80), threshold=st.floats(0.5, 60), seed=st.integers(0, 2 ** 16))
def test_any_size_comes_back_in_range_and_keeps_its_brightness_and_colour(h, w, threshold, seed):
    pictures = _pictures(1, h, w, seed)
    out = smoothing.shrink_coefficients(pictures, torch.tensor([threshold]))
    assert out.shape == pictures.shape and torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 255
    # Each block keeps its mean; their weighted mean keeps the channels' means of a picture
    # of a block or more a side within a level (random pictures are the worst case: every
    # block is texture). A smaller picture's blocks are mostly its mirror images, unevenly
    # weighted: a few levels.
    if h >= smoothing.BLOCK and w >= smoothing.BLOCK:
        assert (out.mean((2, 3)) - pictures.mean((2, 3))).abs().max() < 1.0


def test_a_flat_picture_and_a_grey_one_stay_as_they_are():
    flat = torch.full((1, 3, 50, 60), 0.0)
    flat[:, 0], flat[:, 1], flat[:, 2] = 200.0, 40.0, 90.0
    assert torch.allclose(smoothing.shrink_coefficients(flat, torch.tensor([30.0])), flat, atol=1e-3)
    grey = _pictures(1, 50, 60)[:, :1].expand(1, 3, 50, 60)
    out = smoothing.shrink_coefficients(grey, torch.tensor([30.0]))
    # No colour appears in a grey picture: its colour differences are zero in every block.
    assert (out - out[:, :1]).abs().max() < 1e-3


def test_the_colour_differences_take_their_own_threshold():
    pictures = _pictures(1, 48, 40, seed=3) * 0.5 + 64
    opponent = smoothing.opponent_matrix(pictures)
    mild, hard = ((opponent @ smoothing.shrink_coefficients(pictures, torch.tensor([25.0]), colour=c).view(3, -1))
                  for c in (0.6, 6.0))
    # The luma is shrunk as before; the higher ratio takes more of the colour differences' texture.
    assert torch.allclose(mild[0], hard[0], atol=1e-3)
    assert hard[1:].var(1).max() < 0.5 * mild[1:].var(1).min()


def test_bands_give_the_result_of_one_pass(monkeypatch):
    pictures = _pictures(2, 75, 53)
    thresholds = torch.tensor([12.0, 40.0])
    whole = smoothing.shrink_coefficients(pictures, thresholds)
    monkeypatch.setattr(smoothing, "BAND", smoothing.STEP)
    assert torch.allclose(smoothing.shrink_coefficients(pictures, thresholds), whole, atol=1e-3)
    monkeypatch.setattr(smoothing, "BAND", 3 * smoothing.STEP)
    assert torch.allclose(smoothing.shrink_coefficients(pictures, thresholds), whole, atol=1e-3)


def test_each_picture_takes_its_own_threshold():
    pictures = _pictures(2, 40, 40)
    both = smoothing.shrink_coefficients(pictures, torch.tensor([0.0, 25.0]))
    assert torch.equal(both[0], pictures[0])
    assert torch.allclose(both[1:], smoothing.shrink_coefficients(pictures[1:], torch.tensor([25.0])), atol=1e-4)


def test_weak_coarse_noise_goes_and_a_strong_edge_stays():
    clean = torch.full((1, 3, 96, 96), 60.0)
    clean[..., 48:] = 190.0
    noisy = (clean + blurred_noise(clean.shape, 3.0)).clamp(0, 255)
    out = smoothing.shrink_coefficients(noisy, torch.tensor([12.0]))
    error = lambda x: (x - clean).square().mean().item()  # noqa: E731
    assert error(out) < 0.5 * error(noisy)
    # The edge keeps its full height four pixels from it.
    assert (out[..., 52] - out[..., 44]).mean().item() == pytest.approx(130, abs=1.5)


def test_the_channels_must_be_three():
    with pytest.raises(ValueError, match="3 channels, got 1"):
        smoothing.shrink_coefficients(torch.zeros(1, 1, 8, 8), torch.ones(1))
