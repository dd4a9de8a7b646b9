"""Classical denoisers to set the network's PSNR against, on the same pictures.

Non-local means (scikit-image) is run blind, like the network: the noise
level is not given but estimated from each noisy picture with
``estimate_sigma`` (median absolute deviation of its finest wavelet
coefficients, averaged over the three channels).  The other settings are
those of scikit-image's own example for its fast mode: filter strength
h = 0.8 sigma, 5x5 patches, search distance 6.  They are deliberately not
tuned on the validation set.  ``estimate_sigma`` needs PyWavelets.
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


def missing_requirement() -> str | None:
    """Why the baselines cannot run here, or None when they can."""
    try:
        import pywt  # noqa: F401
    except ImportError:
        return "the non-local means baseline needs PyWavelets: pip install PyWavelets"
    return None


#: Short name (used in JSON) -> (label for people, denoiser).
BASELINES = {"nl_means": ("non-local means (scikit-image, blind sigma)", nl_means)}
