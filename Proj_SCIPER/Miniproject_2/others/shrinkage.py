"""Keeping a blind denoiser from making a lightly noisy picture worse.

A denoiser trained over many noise levels must guess each picture's level from the
picture. On a small picture with fine, regular texture (aliased stair-step edges, fabric)
it can take the texture for noise and smooth it away, and the result is then further
from the clean picture than its noisy input was. That happens only at low noise, where
little is to be gained anyway. Under Gaussian noise of level ``sigma`` the expected
squared error of ``x + a (y - x)``, a blend of the noisy picture ``x`` and the denoised
``y``, is known from observable quantities (Stein's unbiased risk estimate), and is
smallest at

    a = sigma^2 (1 - D) / R,    R = mean (y - x)^2,    D = mean d y_i / d x_i,

so each lightly noisy picture is moved back toward its input by that much. The
divergence ``D`` comes from one more pass of the denoiser on ``x + b`` for a fixed
pattern ``b`` of +-1 levels (``D ~ mean b (f(x + b) - f(x))``).

The noise level is measured on the flattest quarter of the picture (where the denoised
picture changes least from a pixel to its neighbours), where the denoiser averages noise
away rather than detail. A local average whose own pixel weighs ``d`` (``1/m`` over ``m``
pixels) leaves the residual ``x - y = n - mean(n)`` with the variance
``sigma^2 (1 - 2d) + sigma^2 d = sigma^2 (1 - d)``, so there
``sigma^2 = mean (x - y)^2 / (1 - mean d)``.

Pictures whose level is measured at :data:`GATE` or more are left as they are: there the
deep denoiser rarely makes a picture worse, and a level measured a little low would give
part of its gain away. For them the second pass is skipped: the level measured before
knowing ``d`` is never larger than after it.

The measure needs flat parts: a picture that is fine texture nearly everywhere, and that
the denoiser flattens, looks like noise throughout, and is left as the denoiser gave it.
"""
import math

import torch

from .tiles import picture_batches, store

#: Noise level (0-255 scale) from which a picture is left as the denoiser gave it.
GATE = 10.0
#: Share of a picture's sampled pixels, the flattest, that its noise level is measured on.
FLAT = 0.25
#: Pixels per picture that the noise level is measured on: a regular subsample of larger pictures.
SAMPLE = 2 ** 14
#: Side of the square tile that the +-1 probe pattern repeats: far wider than the reach of a
#: convolutional denoiser, so that pixels sharing a sign do not influence each other.
PERIOD = 128
#: What the measured level is multiplied by: on the validation photographs (not the unseen
#: ones) the flattest pixels' level comes out 5% low at sigma 3 to 15 (median over 1,000
#: crops of 32x32), the denoiser keeping there somewhat more noise than a local average would.
CALIBRATION = 1.05
#: Least ``1 - d`` divided by: a denoiser that keeps its input almost as it is holds almost no
#: witness of the noise level.
MIN_KEPT = 0.2


def probe(shape, device):
    """A fixed pattern of +-1 (float) of ``(C, H, W)`` ``shape``: a hash of each position in a
    :data:`PERIOD`-wide tile, repeated. It takes nothing from torch's random number
    generator, so a prediction leaves the caller's random state alone and is reproducible."""
    c, h, w = shape
    k = torch.arange(c * PERIOD * PERIOD, device=device)
    # A 32-bit integer mixing function (multiply, xor-shift), computed in int64.
    k = (k * 2654435761 + 1013904223) & 0xFFFFFFFF
    k = ((k ^ (k >> 16)) * 2246822519) & 0xFFFFFFFF
    k = k ^ (k >> 13)
    tile = (k & 1).float().mul_(2).sub_(1).view(c, PERIOD, PERIOD)
    return tile.repeat(1, -(-h // PERIOD), -(-w // PERIOD))[:, :h, :w]


def _flat_samples(noisy, denoised, extra=None):
    """``(N, C, K)`` residuals ``noisy - denoised`` (and the same pixels of ``extra``) at the
    flattest :data:`FLAT` of at most :data:`SAMPLE` regularly spaced inner pixels of each
    picture, flatness being the summed difference of the denoised picture to the four
    neighbours (one-sided differences tie at zero across regular textures too often)."""
    h, w = denoised.shape[2:]
    step = max(1, math.ceil(math.sqrt((h - 2) * (w - 2) / SAMPLE)))

    def at(dy, dx):
        return Ellipsis, slice(1 + dy, h - 1 + dy, step), slice(1 + dx, w - 1 + dx, step)

    y = denoised[at(0, 0)].float()
    steepness = sum((denoised[at(dy, dx)].float() - y).abs_() for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)))
    n, c = y.shape[:2]
    count = max(1, int(FLAT * y[0, 0].numel()))
    flattest = steepness.sum(1).view(n, -1).topk(count, 1, largest=False).indices
    flattest = flattest.unsqueeze(1).expand(n, c, count)
    residual = (noisy[at(0, 0)].float() - y).view(n, c, -1).gather(2, flattest)
    if extra is None:
        return residual, None
    return residual, extra[at(0, 0)].reshape(n, c, -1).gather(2, flattest)


def noise_level(noisy, denoised, divergence=None):
    """Per picture, the noise level measured on its flattest pixels (see the module's
    documentation); ``divergence``, the denoiser's ``b (f(x + b) - f(x))`` per pixel, corrects
    for the noise the denoiser keeps there; without it the level comes out lower (for a
    denoiser that does not amplify noise). Scaled by :data:`CALIBRATION`.

    Shape:
        - noisy, denoised, divergence: :math:`(N, C, H, W)`, values on the 0-255 scale
        - Output: :math:`(N,)`
    """
    residual, d = _flat_samples(noisy, denoised, divergence)
    power = residual.square().mean((1, 2))
    if d is not None:
        power = power / d.mean((1, 2)).neg_().add_(1).clamp_(min=MIN_KEPT)
    return power.sqrt_().mul_(CALIBRATION)


def _blend(noisy, out, again, probe_pattern):
    """Moves each picture of ``out`` toward ``noisy`` by the SURE-optimal amount, in place;
    ``again`` holds the denoiser's output for ``noisy + probe_pattern``."""
    x, y = noisy.to(out.device).float(), out.float()
    divergence = (again - y).mul_(probe_pattern)
    sigma = noise_level(x, y, divergence)
    keep = sigma.square() * divergence.mean((1, 2, 3)).neg_().add_(1)
    weight = (keep / (y - x).square_().mean((1, 2, 3)).clamp_(min=1e-12)).clamp_(0, 1)
    weight = weight.masked_fill_(sigma >= GATE, 1).view(-1, 1, 1, 1)
    store(out, (y - x).mul_(weight).add_(x).clamp_(0, 255))


def shrink_to_input(noisy, out, denoise):
    """Blends each lightly noisy picture of ``out`` (the denoiser's output for ``noisy``)
    back toward ``noisy`` as the module's documentation says, in place; returns ``out``.

    ``denoise(images, into)`` must write the same denoiser's output for ``images`` (floats
    on the 0-255 scale) into ``into`` (float, ``out``'s device); it runs once more, on the
    pictures whose noise level is measured below :data:`GATE` only. ``out`` may be an
    integer tensor (its result is rounded). Pictures go in batches of
    :func:`~.tiles.picture_batches`. Pictures narrower than 3 pixels have no inner pixel to measure
    the noise on, and are left alone.

    Shape:
        - noisy: :math:`(N, C, H, W)`, 0-255; out: the same shape, any dtype and device
    """
    n, c, h, w = noisy.shape
    if h < 3 or w < 3:
        return out
    for start, stop in picture_batches(n, h, w):
        part, x = out[start:stop], noisy[start:stop].to(out.device)
        low = (noise_level(x, part) < GATE).nonzero().flatten()
        if low.numel() == 0:
            continue
        pattern = probe((c, h, w), out.device)
        x_low, y_low = x.index_select(0, low), part.index_select(0, low)
        again = torch.empty(x_low.shape, device=out.device)
        denoise(x_low.float().add_(pattern), again)
        _blend(x_low, y_low, again, pattern)
        part.index_copy_(0, low, y_low)
    return out
