"""The per-noise-level evaluation: noise, scores, sweeps."""
import pytest
import torch

from n2n_nograd import evaluation
from n2n_nograd.psnr import psnr


def _clean(n=20, size=8, seed=0):
    return torch.randint(30, 220, (n, 3, size, size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def test_noisy_copy_is_reproducible_and_has_the_asked_level():
    clean = _clean(n=200)
    first, again = evaluation.noisy_copy(clean, 15.0), evaluation.noisy_copy(clean, 15.0)
    assert torch.equal(first, again) and first.dtype == torch.uint8
    assert not torch.equal(first, evaluation.noisy_copy(clean, 15.0, seed=1))
    assert (first.float() - clean.float()).std().item() == pytest.approx(15, rel=0.05)


def test_scores_of_the_identity_and_of_the_truth():
    clean = _clean()
    noisy = evaluation.noisy_copy(clean, 25.0)
    same = evaluation.scores(noisy.float(), noisy, clean)
    assert same["gain"] == 0 and same["worse"] == 0 and same["worst_gain"] == 0
    assert same["psnr"] == pytest.approx(psnr(noisy.float() / 255, clean.float() / 255), abs=1e-5)
    perfect = evaluation.scores(clean.float(), noisy, clean)
    assert perfect["colour_shift"] == 0 and perfect["psnr"] == float("inf")


def test_colour_shift_is_the_mean_channel_offset():
    clean = _clean()
    shifted = clean.float()
    shifted[:, 0] += 6  # red up by 6 levels, others untouched: 2 levels on average
    assert evaluation.colour_shift(shifted, clean).tolist() == pytest.approx([2.0] * len(clean))


def test_colour_floor_is_the_noise_mean_offset():
    # |mean of n standard normals| has expectation sqrt(2 / (pi n)).
    clean = _clean(n=400, size=16)
    floor = evaluation.colour_floor(clean, 50.0)
    assert floor.mean().item() == pytest.approx(50 * (2 / (torch.pi * 256)) ** 0.5, rel=0.05)
    noisy = evaluation.noisy_copy(clean, 50.0).double()
    # The same draw as the noisy copy: away from clipping, they differ by rounding only.
    assert evaluation.colour_shift(noisy, clean).mean().item() == pytest.approx(floor.mean().item(), rel=0.2)
    assert evaluation.colour_floor(clean, 0.0).max() == 0


def test_worse_counts_pictures_made_worse():
    clean = _clean(n=10)
    noisy = evaluation.noisy_copy(clean, 10.0)
    out = clean.float()
    out[:3] = 0  # three ruined pictures
    result = evaluation.scores(out, noisy, clean)
    assert result["worse"] == pytest.approx(0.3) and result["worst_gain"] < 0


def test_sweep_rows_and_paired_subsets():
    clean = _clean(n=12)
    calls = []

    def truth(noisy, sigma):
        calls.append((len(noisy), sigma))
        return clean[:len(noisy)].float()

    rows = evaluation.sweep({"identity": lambda noisy, sigma: noisy.float(), "truth": truth},
                            clean, sigmas=(5.0, 50.0), subsets={"truth": 4})
    assert [(r["sigma"], r["denoiser"], r["n"]) for r in rows] == [
        (5.0, "identity", 12), (5.0, "truth", 4), (50.0, "identity", 12), (50.0, "truth", 4)]
    assert calls == [(4, 5.0), (4, 50.0)]
    subset_row = rows[1]
    assert subset_row["paired"]["identity"]["gain"] == 0 and "paired" not in rows[0]
    assert all(r["seconds_per_mp"] >= 0 for r in rows)
    assert rows[0]["colour_floor"] < rows[2]["colour_floor"]
    assert rows[1]["colour_floor"] == pytest.approx(evaluation.colour_floor(clean[:4], 5.0).mean().item())
    assert evaluation.format_row(rows[0]).split()[0] == "5"


@pytest.mark.parametrize("text", ["5,x", "-1", "300", ""])
def test_parse_sigmas_refuses_bad_levels(text):
    with pytest.raises(ValueError):
        evaluation.parse_sigmas(text)


def test_parse_sigmas():
    assert evaluation.parse_sigmas("5,15.5") == (5.0, 15.5)
