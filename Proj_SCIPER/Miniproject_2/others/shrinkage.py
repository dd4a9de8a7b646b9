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
knowing ``d`` is never larger than after it (for a denoiser that does not amplify noise).

The measure needs flat parts, and texture that the denoiser flattens can pass for flat:
where such texture covers much of a picture, the level is measured high and the picture
is left nearer to (or, past :data:`GATE`, at) the denoiser's output.
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
#: Side of the square tile that the +-1 probe pattern repeats: wider than the deep U-Net's reach
#: (40 pixels each way), so that pixels sharing a sign do not influence each other.
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


def _bands(h):
    """Bands of :data:`PERIOD` rows, in each of which the probe pattern is the same: the
    passes over whole pictures go band by band, so they need no picture-sized temporaries."""
    return [slice(top, min(h, top + PERIOD)) for top in range(0, h, PERIOD)]


def _blend(noisy, out, divergence):
    """Moves each picture of ``out`` toward ``noisy`` by the SURE-optimal amount, in place;
    ``divergence`` holds the denoiser's ``b (f(x + b) - f(x))`` per pixel."""
    sigma = noise_level(noisy, out, divergence)
    residual = divergence.new_zeros(out.shape[0])
    for rows in _bands(out.shape[2]):
        residual += (out[:, :, rows].float() - noisy[:, :, rows].float()).square_().sum((1, 2, 3))
    keep = sigma.square() * divergence.mean((1, 2, 3)).neg_().add_(1)
    weight = (keep * out[0].numel() / residual.clamp_(min=1e-12)).clamp_(0, 1)
    weight = weight.masked_fill_(sigma >= GATE, 1).view(-1, 1, 1, 1)
    for rows in _bands(out.shape[2]):
        x, y = noisy[:, :, rows].float(), out[:, :, rows]
        store(y, (y.float() - x).mul_(weight).add_(x).clamp_(0, 255))


def shrink_to_input(noisy, out, denoise):
    """Blends each lightly noisy picture of ``out`` (the denoiser's output for ``noisy``)
    back toward ``noisy`` as the module's documentation says, in place; returns ``out``.

    ``denoise(images, into)`` must write the same denoiser's output for ``images`` (floats
    on the 0-255 scale) into ``into`` (float, ``out``'s device); it runs once more, on the
    pictures whose noise level is measured below :data:`GATE` only. ``out`` may be an
    integer tensor (its result is rounded). Pictures go in batches of
    :func:`~.tiles.picture_batches`; beyond what ``denoise`` needs, a batch takes two float
    copies of its pictures (the probed input and the output for it). Pictures narrower
    than 3 pixels have no inner pixel to measure the noise on, and are left alone.

    Shape:
        - noisy: :math:`(N, C, H, W)`, 0-255; out: the same shape, any dtype and device
    """
    n, c, h, w = noisy.shape
    if h < 3 or w < 3:
        return out
    band = probe((c, PERIOD, w), out.device)
    for start, stop in picture_batches(n, h, w):
        part, x = out[start:stop], noisy[start:stop].to(out.device)
        low = (noise_level(x, part) < GATE).nonzero().flatten()
        if low.numel() == 0:
            continue
        every = low.numel() == stop - start
        x_low, y_low = (x, part) if every else (x.index_select(0, low), part.index_select(0, low))
        # A copy even of a float input: the probe is added in place.
        probed = torch.empty(x_low.shape, device=out.device).copy_(x_low)
        for rows in _bands(h):
            probed[:, :, rows].add_(band[:, :rows.stop - rows.start])
        divergence = torch.empty(x_low.shape, device=out.device)
        denoise(probed, divergence)
        del probed
        for rows in _bands(h):
            divergence[:, :, rows].sub_(y_low[:, :, rows]).mul_(band[:, :rows.stop - rows.start])
        _blend(x_low, y_low, divergence)
        if not every:
            part.index_copy_(0, low, y_low)
    return out
