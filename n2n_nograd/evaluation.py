"""Denoising quality at several noise levels, on clean pictures the models never saw.

Noise is added here, at evaluation time, to the clean pictures of a set, with
the same model as the data builder (``clip(round(clean + sigma z), 0, 255)``,
stored as uint8 like any picture file) and a generator seeded by the set's
seed and sigma, so every denoiser sees exactly the same noisy pictures.

Per denoiser and sigma, over the pictures:

``input_psnr`` / ``psnr``  the grader's PSNR (mean of per-picture PSNRs on [0, 1])
                          of the noisy input and of the output;
``worse``                 the share of pictures whose output PSNR is below their
                          noisy input's (the denoiser made them worse);
``worst_gain``            the lowest per-picture gain (output minus input PSNR);
``colour_shift``          the mean over pictures of the mean over channels of
                          |mean of the output channel - mean of the clean
                          channel|, in 0-255 levels: how far the picture's
                          colour moved;
``colour_floor``          the same for the noise alone (``clean + sigma z``,
                          neither rounded nor clipped): the offset the noise
                          itself puts on each channel's mean, about
                          ``0.8 sigma / sqrt(H W)``. A denoiser can only tell
                          it from the picture's own colour through what it
                          knows of pictures, so it is about the least
                          colour shift to expect: 1.27 levels at sigma 50
                          on 32x32 pictures, 0.31 on 128x128 ones;
``seconds_per_mp``        wall time per megapixel of input.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

from .noise import noisy_version
from .psnr import psnr_per_image

SIGMAS = (5.0, 15.0, 25.0, 35.0, 50.0)

#: A denoiser maps (uint8 noisy pictures, true sigma) to floats in [0, 255];
#: blind ones ignore the sigma.
Denoiser = Callable[[torch.Tensor, float], torch.Tensor]


def parse_sigmas(text: str) -> tuple[float, ...]:
    """``"5,15,25"`` -> ``(5.0, 15.0, 25.0)``; each in [0, 255]."""
    try:
        sigmas = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"noise levels must be comma-separated numbers, got {text!r}") from None
    if not all(0 <= s <= 255 for s in sigmas):
        raise ValueError(f"noise levels must lie in [0, 255] (0-255 scale), got {text!r}")
    return sigmas


def _noise(clean: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """The evaluation's standard-normal draw for ``clean`` at ``sigma``, the same on every call."""
    generator = torch.Generator().manual_seed(seed * 100_003 + round(sigma * 1000))
    return torch.randn(clean.shape, generator=generator)


def noisy_copy(clean: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """The evaluation's noisy version of ``clean`` at ``sigma``, the same on every call."""
    return noisy_version(clean, sigma, _noise(clean, sigma, seed))


def colour_floor(clean: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """Per picture: the colour shift of the noise alone at ``sigma`` (see the module's docs),
    with the draw :func:`noisy_copy` uses."""
    return colour_shift(clean.double() + sigma * _noise(clean, sigma, seed).double(), clean)


def colour_shift(denoised: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per picture: mean over channels of |channel mean of ``denoised`` - of ``clean``| (0-255)."""
    return (denoised.double().mean((2, 3)) - clean.double().mean((2, 3))).abs().mean(1)


def scores(denoised: torch.Tensor, noisy: torch.Tensor, clean: torch.Tensor) -> dict:
    """The module docstring's numbers for one denoiser's output (0-255) on one noisy set."""
    target = clean.double() / 255
    before = psnr_per_image(noisy.double() / 255, target)
    after = psnr_per_image(denoised.double() / 255, target)
    gain = after - before
    return {"input_psnr": before.mean().item(), "psnr": after.mean().item(),
            "gain": gain.mean().item(), "worse": (gain < 0).double().mean().item(),
            "worst_gain": gain.min().item(), "colour_shift": colour_shift(denoised, clean).mean().item()}


def sweep(denoisers: dict[str, Denoiser], clean: torch.Tensor, sigmas=SIGMAS, seed: int = 0,
          subsets: dict[str, int] | None = None,
          log: Callable[[str], None] = lambda message: None) -> list[dict]:
    """Score every denoiser at every sigma; one row per (sigma, denoiser).

    ``subsets`` limits slow denoisers to the first N pictures; their rows then
    also carry ``paired``, every other denoiser's scores on those same pictures.
    """
    subsets = subsets or {}
    rows = []
    for sigma in sigmas:
        noisy = noisy_copy(clean, sigma, seed)
        floor = colour_floor(clean, sigma, seed)
        outputs = {}
        for name, denoise in denoisers.items():
            n = min(subsets.get(name, len(clean)), len(clean))
            started = time.perf_counter()
            outputs[name] = denoise(noisy[:n], sigma).float()
            seconds = time.perf_counter() - started
            row = {"sigma": sigma, "denoiser": name, "n": n, **scores(outputs[name], noisy[:n], clean[:n]),
                   "colour_floor": floor[:n].mean().item(),
                   "seconds_per_mp": seconds / (n * clean.shape[2] * clean.shape[3] / 1e6)}
            rows.append(row)
            log(format_row(row))
        for row in rows:
            if row["sigma"] == sigma and row["n"] < len(clean):
                row["paired"] = {other: scores(out[:row["n"]], noisy[:row["n"]], clean[:row["n"]])
                                 for other, out in outputs.items() if other != row["denoiser"]}
    return rows


HEADER = (f"{'sigma':>5}  {'denoiser':<44}{'n':>5}  {'input':>6}  {'output':>6}  {'gain':>6}  "
          f"{'worse':>6}  {'worst':>6}  {'colour':>6}  {'floor':>5}  {'s/MP':>7}")


def format_row(row: dict) -> str:
    return (f"{row['sigma']:5g}  {row['denoiser']:<44}{row['n']:5d}  {row['input_psnr']:6.2f}  "
            f"{row['psnr']:6.2f}  {row['gain']:+6.2f}  {100 * row['worse']:5.1f}%  "
            f"{row['worst_gain']:+6.2f}  {row['colour_shift']:6.2f}  {row['colour_floor']:5.2f}  "
            f"{row['seconds_per_mp']:7.2f}")
