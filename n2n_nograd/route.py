"""The denoiser ``n2n denoise`` uses by default: the camera model, or the deep model where the
picture's noise is white.

The camera model (the deep model fine-tuned on a camera's noise as well as white noise) gives a
camera's photo, a JPEG and a grey picture what the deep model cannot, but white Gaussian noise in
a lossless file 0.2-0.8 dB less than the deep model (docs/real-noise.md). Which noise a picture
carries shows in what the camera model takes away from it: on its flattest pixels, white noise
leaves a residual nearly uncorrelated between neighbours and between channels; a camera's noise
one correlated between neighbours (demosaicing, noise reduction), a JPEG's 4:2:0 colour and a
grey picture's one correlated between channels. So every picture goes through the camera model,
and one whose residual is white by both measures goes through the deep model instead: such a
picture costs both models' time, a camera's photo the camera model's. A picture larger than
:data:`PROBE` pixels a side is judged on its central ``PROBE x PROBE`` square alone, then goes
through the one model chosen: a photo's noise is the same kind all over, and a white-noise
photo then costs the deep model's time and a small part more, not both models'.

The thresholds were set on the validation photographs (chelsea, coffee; 400 crops of 64x64 under
white noise, the camera model of 2026-12-06): at sigma 3, 99.5% of them fell below 0.46 between
neighbours (the blend's own gate, :data:`~Miniproject_2.others.denoisers.shrinkage.CORRELATED`)
and 0.50 between channels; below sigma 3 texture takes a growing share of the residual and more
pictures stay with the camera model, whose loss there is small.
"""
from __future__ import annotations

import torch

from Miniproject_2.others.denoisers.shrinkage import CORRELATED, residual_correlations
from Miniproject_2.others.denoisers.strength import apply_strength, check_strength

#: Correlation of the residual between channels from which the noise counts as not white.
CHANNELS = 0.6
#: Side of the central square that a larger picture is judged on (a quarter of a megapixel).
PROBE = 512


def white_noise(noisy: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """Per picture (bool, (N,)): whether the residual ``noisy - denoised`` looks like white noise
    (below :data:`~Miniproject_2.others.denoisers.shrinkage.CORRELATED` between neighbours and
    :data:`CHANNELS` between channels)."""
    neighbours, channels = residual_correlations(noisy, denoised)
    return (neighbours < CORRELATED) & (channels < CHANNELS)


class Router:
    """``predict`` like a model's, by the camera model, or by the white-noise model for pictures
    whose noise is white (module docstring). ``config`` is the camera model's."""

    def __init__(self, camera, white):
        self.camera, self.white = camera, white
        self.config = camera.config

    def predict(self, test_input, out=None, ensemble=1, progress=False, strength=1.0, unclipped=False):
        strength = check_strength(strength, "Router.predict")
        h, w = test_input.shape[-2:]
        whole = h <= PROBE and w <= PROBE
        if whole:
            region = test_input
            # The camera model's own judgement, at strength 1 whatever the strength asked: what
            # the noise is judged on, and where each picture it keeps starts from.
            judged = self.camera.predict(test_input, None, ensemble, progress, 1.0, unclipped)
        else:
            top, left = max(0, (h - PROBE) // 2), max(0, (w - PROBE) // 2)
            region = test_input[..., top:top + PROBE, left:left + PROBE]
            judged = self.camera.predict(region, unclipped=unclipped)
        if out is None:
            out = torch.empty(test_input.shape, dtype=torch.float32, device=test_input.device)
        noisy = region.clamp(0, 255) if unclipped else region
        white = white_noise(noisy, judged).tolist()
        for i, is_white in enumerate(white):
            if whole and not is_white:
                apply_strength(noisy[i:i + 1], judged[i:i + 1], strength, out[i:i + 1])
            else:
                model = self.white if is_white else self.camera
                model.predict(test_input[i:i + 1], out[i:i + 1], ensemble, progress, strength, unclipped)
        return out
