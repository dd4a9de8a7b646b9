"""The noise of the training and validation pairs: white Gaussian noise, its levels and the
colour augmentation of the clean pictures; a camera's noise comes from ``camera.py``.

Noise model
-----------
``noisy = clip(round(clean + sigma * z), 0, 255)`` on the 0-255 scale, with
``z`` standard normal, independent per pixel and channel.  Training pictures
get two independent draws, validation pictures one (stored with the clean
picture).  ``sigma`` is found by bisection, with the validation draw of ``z``
held fixed, so that the validation input PSNR -- the grader's formula, the
mean over pictures of -10 log10(MSE) on the [0, 1] scale -- is 20.7 dB, the
value of the course's validation set.  With the default photos and size 32
that gives sigma close to 24.5.

With ``sigma_range=(lo, hi)`` each training picture gets its own sigma, drawn
uniformly in [lo, hi] (both noisy draws of a pair share it), so the network
learns more than one noise level; validation keeps the calibrated sigma.

Unclipped targets (``unclipped_targets=True``): clipping to 0-255 makes the
noise of dark and bright pixels lose its zero mean, and a network trained
Noise2Noise-style on clipped targets learns that bias as a colour shift.  With
this option ``noisy_b``, the training target, is stored unclipped, as int16
(``round(clean + sigma z)``, -255..510), while ``noisy_a``, the input, stays the
clipped uint8 picture a camera file would hold.  Such a file is no longer in
the course's format (``load_pairs`` accepts it; ``n2n train`` passes the
target as floats).

Colour augmentation (``augment``), applied to the clean training pictures
before the noise, so that the network cannot learn the colour statistics of a
few photos: ``"channels"`` permutes the three channels of each picture (one of
the 6 orders, uniformly); ``"gain"`` scales each channel of each picture by
its own factor drawn log-uniformly in [GAIN_LOW, 1] (darker, never clipped);
``"exposure"`` does the same in [GAIN_LOW, 1 / GAIN_LOW] but brightens a channel
no further than its brightest pixel allows (so brightness is not biased down,
and still nothing clips).

Fresh noise (``fresh_noise=True``, ``n2n data --fresh-noise``): the clean
training pictures are stored (``train_clean.pkl``, after colour augmentation)
instead of noisy pairs, and ``n2n train`` draws a new Noise2Noise pair of each
picture every epoch (:func:`fresh_pairs`), with sigma per picture in
``sigma_range``: over many epochs the network sees many noise draws and levels
of every picture, as a blind denoiser must. The network still never sees a
clean target: each pair is two independent noisy draws. The draws depend only on
the seed and the epoch, so a resumed run sees the noise it would have seen.

Camera noise (``noise="camera"`` or ``"mixture"``, ``n2n data --noise``, fresh noise
only): each pair goes through the camera pipeline of ``camera.py`` (un-processed to raw,
shot and read noise, demosaiced and processed back, JPEG for a share); "mixture" mixes it
with the Gaussian noise above and grey pictures (:data:`camera.MIXTURE`). The validation
pictures then get the same noise, once, and their clean picture is the pipeline's
noiseless result (what a camera would have made of the scene without noise).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .camera import CameraSettings, mixture_pairs
from .psnr import psnr

#: Input PSNR (dB) of the course's validation set, which the calibrated sigma reproduces.
TARGET_PSNR = 20.7
AUGMENTATIONS = ("channels", "gain", "exposure")
#: Lowest per-channel gain of the "gain" augmentation.
GAIN_LOW = 0.6

# Noise is drawn in blocks of this many pictures: it bounds the float32
# scratch memory, and keeping it fixed keeps the random stream reproducible.
_NOISE_BLOCK = 4096


def noisy_version(clean: torch.Tensor, sigma, z: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """The noise model, for a given standard-normal draw ``z`` of the same shape.

    ``sigma`` is one number, or a length-N tensor of one sigma per picture.
    ``clip=False`` keeps values outside 0-255, as int16.
    """
    if isinstance(sigma, torch.Tensor):
        noisy = z.mul(sigma.view(-1, 1, 1, 1)).add_(clean)
    else:
        noisy = torch.add(clean, z, alpha=sigma)
    if not clip:
        return noisy.round_().clamp_(-255, 510).to(torch.int16)
    return noisy.round_().clamp_(0, 255).to(torch.uint8)


def add_noise(clean: torch.Tensor, sigma, generator: torch.Generator, clip: bool = True) -> torch.Tensor:
    """One fresh noisy draw of a uint8 batch; ``sigma`` and ``clip`` as in :func:`noisy_version`."""
    out = torch.empty(clean.shape, dtype=torch.uint8 if clip else torch.int16)
    for start in range(0, len(clean), _NOISE_BLOCK):
        block = clean[start:start + _NOISE_BLOCK]
        z = torch.randn(block.shape, generator=generator)
        block_sigma = sigma[start:start + _NOISE_BLOCK] if isinstance(sigma, torch.Tensor) else sigma
        out[start:start + _NOISE_BLOCK] = noisy_version(block, block_sigma, z, clip)
    return out


def fresh_pairs(clean: torch.Tensor, sigma_range, unclipped_targets: bool, seed: int, epoch: int,
                device, noise: str = "gaussian", settings: CameraSettings = CameraSettings(),
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Epoch ``epoch``'s Noise2Noise pairs of the clean uint8 pictures, on ``device``.

    Each picture gets its own sigma, uniform in ``sigma_range``, shared by its two
    independent draws; the input is clipped uint8, the target float (unclipped values if
    ``unclipped_targets``, else clipped). The draws depend only on ``seed``, ``epoch`` and
    the device's random generator. ``noise`` "camera" or "mixture" draws the pairs of
    :func:`camera.mixture_pairs` instead, with the camera pictures' ``settings``, on the CPU
    (JPEG is Pillow's).
    """
    lo, hi = sigma_range
    state = np.random.SeedSequence([seed % 2 ** 64, epoch]).generate_state(1, np.uint64)[0]
    if noise != "gaussian":
        generator = torch.Generator().manual_seed(int(state))
        sigma = torch.rand(len(clean), generator=generator).mul_(hi - lo).add_(lo)
        pairs = [mixture_pairs(clean[start:start + _NOISE_BLOCK].cpu(), sigma[start:start + _NOISE_BLOCK],
                               generator, unclipped_targets, noise, settings)[:2]
                 for start in range(0, len(clean), _NOISE_BLOCK)]
        return tuple(torch.cat(part).to(device) for part in zip(*pairs))
    generator = torch.Generator(device=device).manual_seed(int(state))
    sigma = torch.rand(len(clean), generator=generator, device=device).mul_(hi - lo).add_(lo)
    noisy_a = torch.empty(clean.shape, dtype=torch.uint8, device=device)
    noisy_b = torch.empty(clean.shape, dtype=torch.float32, device=device)
    for start in range(0, len(clean), _NOISE_BLOCK):
        block = clean[start:start + _NOISE_BLOCK].to(device)
        block_sigma = sigma[start:start + _NOISE_BLOCK]
        for out, clip in ((noisy_a, True), (noisy_b, not unclipped_targets)):
            z = torch.randn(block.shape, generator=generator, device=device)
            out[start:start + _NOISE_BLOCK] = noisy_version(block, block_sigma, z, clip)
    return noisy_a, noisy_b


def check_augment(kinds) -> list[str]:
    """The augmentation names, sorted; an unknown one raises ValueError."""
    unknown = sorted(set(kinds) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; known: {', '.join(AUGMENTATIONS)}")
    return sorted(set(kinds))


def augment_colours(clean: torch.Tensor, kinds, generator: torch.Generator) -> torch.Tensor:
    """The colour augmentations ``kinds`` (see the module docstring) of a uint8 batch."""
    check_augment(kinds)
    out = clean
    if "channels" in kinds:
        orders = torch.rand(len(clean), 3, generator=generator).argsort(dim=1)
        out = out.gather(1, orders.view(-1, 3, 1, 1).expand_as(out))
    low = math.log(GAIN_LOW)
    for kind in ("gain", "exposure"):
        if kind in kinds:
            high = torch.zeros(len(clean), 3, 1, 1)
            if kind == "exposure":
                brightest = out.amax((2, 3), keepdim=True).float().clamp_(min=1)
                high = (255 / brightest).log_().clamp_(max=-low)
            gains = torch.rand(len(clean), 3, 1, 1, generator=generator).mul_(high - low).add_(low).exp_()
            out = out.float().mul_(gains).round_().clamp_(max=255).to(torch.uint8)
    return out


def input_psnr(noisy: torch.Tensor, clean: torch.Tensor) -> float:
    return psnr(noisy.float() / 255, clean.float() / 255)


def noiseless_note(noisy: torch.Tensor, clean: torch.Tensor) -> str:
    """Why a set's input PSNR is infinite, or "": pictures drawn at a noise level near 0
    can round back to the clean picture, and one infinite PSNR makes the mean infinite."""
    same = int((noisy == clean).flatten(1).all(1).sum())
    return (f" ({same} of {len(noisy)} pictures carry no noise, so the mean input PSNR and the "
            "gain over it are infinite)") if same else ""


def calibrate_sigma(clean: torch.Tensor, z: torch.Tensor, target: float = TARGET_PSNR,
                    tol: float = 1e-4) -> float:
    """Bisection for the sigma at which the input PSNR of ``clean`` with noise ``z`` is ``target``.

    With z held fixed every pixel's error grows with sigma, so the PSNR falls
    monotonically and bisection is safe.
    """
    lo, hi = 0.0, 255.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if input_psnr(noisy_version(clean, mid, z), clean) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def check_sigma_range(sigma_range) -> tuple[float, float] | None:
    if sigma_range is None:
        return None
    lo, hi = (float(v) for v in sigma_range)
    if not 0 <= lo <= hi <= 255:
        raise ValueError(f"--sigma-range must be two numbers 0 <= LO <= HI <= 255, got {lo:g} {hi:g}")
    return lo, hi
