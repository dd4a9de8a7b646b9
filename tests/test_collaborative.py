"""Collaborative Wiener filtering (``Miniproject_2/others/denoisers/collaborative.py``): BM3D's
second stage with a pilot, against a plain loop over the reference blocks."""
import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from Miniproject_2.others.denoisers import collaborative
from Miniproject_2.others.denoisers.smoothing import dct_matrix, opponent_matrix


def _pictures(h, w, seed=0, n=1):
    generator = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 3, h, w, generator=generator) * 200 + 20
    noisy = (clean + torch.randn(n, 3, h, w, generator=generator) * 15).clamp(0, 255)
    return noisy, clean


def _kaiser(n, beta):
    # numpy's definition: I0(beta sqrt(1 - (2i / (n - 1) - 1)^2)) / I0(beta).
    i0 = torch.special.i0
    x = torch.arange(n, dtype=torch.float64)
    one = i0(beta * (1 - (2 * x / (n - 1) - 1).square()).clamp(min=0).sqrt())
    one = one / i0(torch.tensor(beta, dtype=torch.float64))
    return torch.outer(one, one)


def _reference(noisy, pilot, level, colour):
    """One picture, float64, one reference block at a time; the colour differences at ``colour`` times ``level``."""
    b, g, r = collaborative.BLOCK, collaborative.GROUP, collaborative.RADIUS
    like = torch.empty(0, dtype=torch.float64)
    opponent, dct, across = opponent_matrix(like), dct_matrix(b, like), dct_matrix(g, like)
    window = _kaiser(b, collaborative.KAISER_BETA)
    _, h, w = noisy.shape
    x = torch.einsum("ij,jhw->ihw", opponent, noisy.double())
    p = torch.einsum("ij,jhw->ihw", opponent, pilot.double())
    sums, weights = torch.zeros(3, h, w, dtype=torch.float64), torch.zeros(3, h, w, dtype=torch.float64)

    def grid(size):
        positions = list(range(0, size - b + 1, collaborative.STEP))
        return positions if positions[-1] == size - b else positions + [size - b]

    for top in grid(h):
        for left in grid(w):
            reference = p[0, top:top + b, left:left + b]
            candidates = []
            for y in range(max(0, top - r), min(h - b, top + r) + 1):
                for x0 in range(max(0, left - r), min(w - b, left + r) + 1):
                    distance = -1.0 if (y, x0) == (top, left) else \
                        float((p[0, y:y + b, x0:x0 + b] - reference).square().sum())
                    candidates.append((distance, y, x0))
            stack = sorted(candidates)[:g]
            stack += [stack[0]] * (g - len(stack))
            xs = torch.stack([x[:, y:y + b, x0:x0 + b] for _, y, x0 in stack], 1)
            ps = torch.stack([p[:, y:y + b, x0:x0 + b] for _, y, x0 in stack], 1)

            def forward(blocks):
                return torch.einsum("sk,cklm->cslm", across, dct @ blocks @ dct.t())

            pilot_spectrum = forward(ps)
            levels = torch.tensor([level, colour * level, colour * level], dtype=torch.float64).view(3, 1, 1, 1)
            scale = pilot_spectrum.square() / (pilot_spectrum.square() + levels ** 2)
            estimate = dct.t() @ torch.einsum("sk,cslm->cklm", across, forward(xs) * scale) @ dct
            weight = 1 / scale.square().sum((1, 2, 3)).clamp(min=collaborative.KEPT)
            for k, (_, y, x0) in enumerate(stack):
                sums[:, y:y + b, x0:x0 + b] += weight.view(3, 1, 1) * window * estimate[:, k]
                weights[:, y:y + b, x0:x0 + b] += weight.view(3, 1, 1) * window
    return torch.einsum("ij,ihw->jhw", opponent, sums / weights).clamp(0, 255)


@pytest.mark.parametrize("h, w, level, colour", [(21, 26, 20.0, 1.0), (8, 8, 5.0, 6.0), (30, 9, 40.0, 0.5),
                                                  (17, 40, 0.5, 1.0), (24, 20, 8.0, 3.0)])
def test_the_filter_is_a_loop_over_the_reference_blocks(h, w, level, colour):
    noisy, clean = _pictures(h, w, seed=h * w)
    pilot = (clean + torch.randn(clean.shape, generator=torch.Generator().manual_seed(1)) * 3).clamp(0, 255)
    out = collaborative.collaborative_wiener(noisy, pilot, torch.tensor([level]), colour)
    expected = _reference(noisy[0], pilot[0], level, colour)
    assert torch.allclose(out[0].double(), expected, atol=2e-3, rtol=0)


@settings(max_examples=20, deadline=None)
@given(h=st.integers(8, 70), w=st.integers(8, 50), strip=st.integers(1, 40), references=st.integers(1, 30),
       seed=st.integers(0, 2 ** 16))
def test_strips_and_batches_of_references_give_the_result_of_one_pass(h, w, strip, references, seed):
    noisy, clean = _pictures(h, w, seed, n=2)
    levels = torch.tensor([10.0, 30.0])
    whole = collaborative.collaborative_wiener(noisy, clean, levels)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(collaborative, "STRIP", strip)
        patch.setattr(collaborative, "REFERENCES", references)
        # Batches add the same blocks in another order: float32 rounding of sums near 255 (1e-6 of them).
        assert torch.allclose(collaborative.collaborative_wiener(noisy, clean, levels), whole, atol=1e-3)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), level=st.floats(0.1, 80), seed=st.integers(0, 2 ** 16))
def test_any_size_comes_back_finite_and_in_range(h, w, level, seed):
    noisy, clean = _pictures(h, w, seed)
    out = collaborative.collaborative_wiener(noisy.to(torch.uint8), clean, torch.tensor([level]))
    assert out.shape == noisy.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 255
    if h < collaborative.BLOCK or w < collaborative.BLOCK:
        assert torch.equal(out, clean)


def test_a_level_of_zero_gives_back_the_pilot_and_a_tiny_one_the_noisy_picture():
    noisy, clean = _pictures(40, 45)
    out = collaborative.collaborative_wiener(noisy, clean, torch.tensor([0.0]))
    assert torch.equal(out, clean)
    # Every coefficient kept whole, but for the few of the pilot's near 0: the blocks put back
    # are the noisy picture's own.
    error = (collaborative.collaborative_wiener(noisy, clean, torch.tensor([1e-5])) - noisy).abs()
    assert error.max() < 0.1 and error.mean() < 1e-3


def test_noise_on_a_flat_picture_is_removed_and_a_grey_picture_stays_grey():
    flat = torch.full((1, 3, 48, 48), 120.0)
    noisy = flat + torch.randn(flat.shape, generator=torch.Generator().manual_seed(0)) * 10
    out = collaborative.collaborative_wiener(noisy, flat, torch.tensor([10.0]))
    # 16 blocks a stack, each pixel in about 7 stacks' reach: the noise's level falls by far.
    assert (out - flat).square().mean().sqrt() < 2.0
    grey = noisy[:, :1].expand(1, 3, 48, 48)
    out = collaborative.collaborative_wiener(grey, flat, torch.tensor([10.0]))
    assert (out - out[:, :1]).abs().max() < 1e-3


def test_the_kaiser_window_is_bessels():
    window = collaborative._kaiser(collaborative.BLOCK, collaborative.KAISER_BETA, torch.empty(0, dtype=torch.float64))
    assert torch.allclose(window.view(collaborative.BLOCK, collaborative.BLOCK),
                          _kaiser(collaborative.BLOCK, collaborative.KAISER_BETA), atol=1e-12)
    assert math.isclose(float(window.max()), float(window[3 * collaborative.BLOCK + 3]))


def test_bad_arguments_are_refused():
    noisy, clean = _pictures(20, 20)
    with pytest.raises(ValueError, match="3 channels"):
        collaborative.collaborative_wiener(noisy[:, :1], clean[:, :1], torch.tensor([5.0]))
    with pytest.raises(ValueError, match="differ"):
        collaborative.collaborative_wiener(noisy[:, :, :10], clean, torch.tensor([5.0]))
