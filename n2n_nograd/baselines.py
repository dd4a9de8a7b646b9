"""Classical denoisers to set the network's PSNR against, on the same pictures.

Non-local means (scikit-image) is run blind, like the network: the noise
level is not given but estimated from each noisy picture with
``estimate_sigma`` (median absolute deviation of its finest wavelet
coefficients, averaged over the three channels).  The other settings are
those of scikit-image's own example for its fast mode: filter strength
h = 0.8 sigma, 5x5 patches, search distance 6.  They are deliberately not
tuned on the validation set.  ``estimate_sigma`` needs PyWavelets.

BM3D (the ``bm3d`` package, ``pip install bm3d``) is the classical method to
beat.  It is not blind: it is told the true noise level, which favours it.
It costs about a second per picture whatever its size (mostly fixed setup
per call), so sweeps run it on a subset of the pictures.
"""

from __future__ import annotations

import numpy as np
import torch


def nl_means(noisy: torch.Tensor) -> torch.Tensor:
    """Denoise a uint8 (N, 3, H, W) batch picture by picture; floats in [0, 255]."""
    from skimage.restoration import denoise_nl_means, estimate_sigma

    pictures = noisy.permute(0, 2, 3, 1).numpy().astype(np.float64) / 255
    out = np.empty_like(pictures)
    for i, picture in enumerate(pictures):
        sigma = float(np.mean(estimate_sigma(picture, channel_axis=-1)))
        out[i] = denoise_nl_means(picture, h=0.8 * sigma, sigma=sigma, fast_mode=True,
                                  patch_size=5, patch_distance=6, channel_axis=-1)
    return torch.from_numpy(out * 255).permute(0, 3, 1, 2).float()


def bm3d(noisy: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D told the true ``sigma`` (0-255 scale), picture by picture; floats in [0, 255]."""
    import bm3d as bm3d_package

    pictures = noisy.permute(0, 2, 3, 1).numpy().astype(np.float64) / 255
    out = np.empty_like(pictures)
    for i, picture in enumerate(pictures):
        out[i] = bm3d_package.bm3d_rgb(picture, max(sigma, 0.5) / 255)
    return torch.from_numpy(out.clip(0, 1) * 255).permute(0, 3, 1, 2).float()


BM3D_LABEL = "BM3D (true sigma)"



def bm3d_missing() -> str | None:
    """Why BM3D cannot run here, or None when it can."""
    try:
        import bm3d as bm3d_package  # noqa: F401
    except ImportError:
        return "the BM3D baseline needs the bm3d package: pip install bm3d"
    return None


def missing_requirement() -> str | None:
    """Why the baselines cannot run here, or None when they can."""
    try:
        import pywt  # noqa: F401
    except ImportError:
        return "the non-local means baseline needs PyWavelets: pip install PyWavelets"
    return None


#: Short name (used in JSON) -> (label for people, denoiser).
BASELINES = {"nl_means": ("non-local means (scikit-image, blind sigma)", nl_means)}


def classical(with_bm3d: bool) -> dict:
    """Label -> denoiser of (noisy, sigma), as ``evaluation.sweep`` takes them: the blind
    baselines, which ignore sigma, and BM3D when asked for."""
    denoisers = {label: (lambda noisy, sigma, run=run: run(noisy)) for label, run in BASELINES.values()}
    if with_bm3d:
        denoisers[BM3D_LABEL] = bm3d
    return denoisers
