"""Keeping a blind denoiser from making a lightly noisy picture worse.

A denoiser trained over many noise levels must guess each picture's level from the
picture. On a small picture with fine, regular texture (aliased stair-step edges, fabric)
it can take the texture for noise and smooth it away, and the result is then further
from the clean picture than its noisy input was. That happens only at low noise, where
little is to be gained anyway. Under Gaussian noise of variance ``s_i^2`` at pixel ``i``
the expected squared error of ``x + a (y - x)``, a blend of the noisy picture ``x`` and the
denoised ``y``, is known from observable quantities (Stein's unbiased risk estimate), and
is smallest at

    a = sum s_i^2 (1 - d_i) / sum (y_i - x_i)^2,    d_i = d y_i / d x_i,

so each lightly noisy picture is moved back toward its input by that much (with one level
``sigma`` everywhere, ``a = sigma^2 (1 - D) / R``, ``D`` the mean of ``d_i`` and ``R`` of the
squared residuals). The divergences ``d_i`` come from one more pass of the denoiser on
``x + b`` for a fixed pattern ``b`` of +-1 levels (``d_i ~ b_i (f(x + b) - f(x))_i``).

The noise level is measured on the flattest quarter of the picture (where the denoised
picture changes least from a pixel to its neighbours), where the denoiser averages noise
away rather than detail. A local average whose own pixel weighs ``d`` (``1/m`` over ``m``
pixels) leaves the residual ``x - y = n - mean(n)`` with the variance
``sigma^2 (1 - 2d) + sigma^2 d = sigma^2 (1 - d)``, so there
``sigma^2 = mean (x - y)^2 / (1 - mean d)``.

A camera's noise is not one level: its photon (shot) noise adds a variance proportional
to the light, ``s^2(v) = alpha v + beta`` at brightness ``v``, and the flattest parts of a
photo are often its shadows or its sky, darker or brighter than the rest. So the measure
is a line, the squared residuals of the flattest pixels against their denoised brightness
(least squares), and its slope ``alpha`` is kept only where it stands clear of its own
uncertainty (:data:`SIGNIFICANCE` standard errors); otherwise, as under Gaussian noise,
the level is the one number above. The blend then weighs each pixel by its own variance.

Pictures whose level, the root mean square of ``s_i`` over the picture, is measured at
:data:`GATE` or more are left as they are: there the deep denoiser rarely makes a picture
worse, and a level measured a little low would give part of its gain away. For them the
second pass is skipped: the level measured before knowing ``d`` is never larger than
after it (for a denoiser that does not amplify noise).

Stein's estimate holds for noise that is independent from pixel to pixel. A camera's noise
is not: demosaicing spreads each raw value over its neighbours, and JPEG and in-camera
processing do more of the same. Under such noise the measured level comes out low and the
blend gives back much of the denoiser's gain (0.67 dB of the camera model's on real photos,
``benchmarks/camera_noise.py``). So a picture whose
residual, on its flattest pixels, correlates with its right neighbour's by
:data:`CORRELATED` or more is left as the denoiser gave it: white noise leaves there a
residual that is nearly uncorrelated (the 99.5th percentile over the validation crops was
0.46 at sigma 3 and 0.31 at sigma 5 with an early checkpoint of the camera model), demosaiced
noise one correlated by about a half. Such a picture gets a local check instead, which
gives back where the residual stands far above the noise level what the denoiser took
for noise (:mod:`.detail`).

The measure needs flat parts, and texture that the denoiser flattens can pass for flat:
where such texture covers much of a picture, the level is measured high and the picture
is left nearer to (or, past :data:`GATE`, at) the denoiser's output.
"""
import math

import torch

from .detail import give_back_detail
from .smoothing import opponent_matrix
from .tiles import picture_batches, store

#: Noise level (0-255 scale) from which a picture is left as the denoiser gave it.
GATE = 10.0
#: Correlation of neighbouring residuals on the flattest pixels from which the noise counts
#: as not white, and the picture is left as the denoiser gave it.
CORRELATED = 0.45
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
#: Standard errors by which the slope of the noise's variance against brightness must exceed
#: zero to be kept: under Gaussian noise a slope is then kept for about one picture in 700,
#: and the level stays the one number it was.
SIGNIFICANCE = 3.0


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


def _flat_samples(noisy, denoised, extra=None, neighbour=False, colour=False):
    """``(residual, brightness, extra)``, each ``(N, C, K)``: the residuals ``noisy - denoised``,
    the denoised values and the same pixels of ``extra`` (``None`` without it) at the flattest
    :data:`FLAT` of at most :data:`SAMPLE` regularly spaced inner pixels of each picture,
    flatness being the summed difference of the denoised picture to the four neighbours
    (one-sided differences tie at zero across regular textures too often). With
    ``neighbour``, ``extra`` is instead the residual of each pixel's right neighbour; with
    ``colour``, the two colour differences (opponent colours) of ``noisy`` less the mean of
    its four neighbours' (``(N, 2, K)``)."""
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
    brightness = y.reshape(n, c, -1).gather(2, flattest)
    residual = (noisy[at(0, 0)].float() - y).view(n, c, -1).gather(2, flattest)
    if colour:
        x = noisy[at(0, 0)].float()
        fine = sum(x - noisy[at(dy, dx)].float() for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))).div_(4)
        fine = opponent_matrix(fine)[1:] @ fine.view(n, c, -1)
        return residual, brightness, fine.gather(2, flattest[:, :2])
    if neighbour:
        right = noisy[at(0, 1)].float() - denoised[at(0, 1)].float()
        return residual, brightness, right.reshape(n, c, -1).gather(2, flattest)
    if extra is None:
        return residual, brightness, None
    return residual, brightness, extra[at(0, 0)].reshape(n, c, -1).gather(2, flattest)


def noise_variance(noisy, denoised, divergence=None):
    """Per picture, the noise's variance as a function of brightness, ``alpha v + beta``
    (0-255 scale), measured on its flattest pixels (see the module's documentation);
    ``divergence``, the denoiser's ``b (f(x + b) - f(x))`` per pixel, corrects for the noise
    the denoiser keeps there; without it the variance comes out lower (for a denoiser that
    does not amplify noise). Both are scaled by :data:`CALIBRATION` squared, and both are at
    least 0; ``alpha`` is 0 unless the slope is significant (:data:`SIGNIFICANCE`).

    Shape:
        - noisy, denoised, divergence: :math:`(N, C, H, W)`, values on the 0-255 scale
        - Output: ``(alpha, beta)``, each :math:`(N,)`
    """
    return _variance_line(*_flat_samples(noisy, denoised, divergence))


def _variance_line(residual, brightness, d):
    """:func:`noise_variance` of the flattest pixels' samples (see :func:`_flat_samples`)."""
    n = residual.shape[0]
    power, v = residual.square().view(n, -1), brightness.view(n, -1)
    centred = v - v.mean(1, keepdim=True)
    spread = centred.square().sum(1).clamp_(min=1e-12)
    mean_power = power.mean(1)
    slope = (centred * power).sum(1) / spread
    intercept = mean_power - slope * v.mean(1)
    misfit = (power - mean_power.unsqueeze(1) - slope.unsqueeze(1) * centred).square().sum(1)
    standard_error = (misfit / max(power.shape[1] - 2, 1) / spread).sqrt_()
    # A line that would cross zero above black is pinned there: shot noise alone.
    through_black = (v * power).sum(1) / v.square().sum(1).clamp_(min=1e-12)
    slope = through_black.where(intercept < 0, slope)
    significant = slope > SIGNIFICANCE * standard_error
    alpha = slope.mul(significant)
    beta = intercept.clamp(min=0).where(significant, mean_power)
    scale = CALIBRATION ** 2
    if d is not None:
        scale = scale / d.mean((1, 2)).neg_().add_(1).clamp_(min=MIN_KEPT)
    return alpha * scale, beta * scale


def noise_level(noisy, denoised, divergence=None):
    """Per picture, the root mean square over its pixels of the noise's level, from
    :func:`noise_variance` (with one level everywhere, that level).

    Shape:
        - noisy, denoised, divergence: :math:`(N, C, H, W)`, values on the 0-255 scale
        - Output: :math:`(N,)`
    """
    return _level(*noise_variance(noisy, denoised, divergence), denoised)


def _level(alpha, beta, denoised):
    """The root mean square level over each picture of ``denoised`` (any dtype) under the
    variance ``alpha v + beta``: the mean of the variance is that at the mean brightness."""
    brightness = denoised.sum((1, 2, 3), dtype=torch.float64).div_(denoised[0].numel()).float()
    return brightness.mul_(alpha).add_(beta).sqrt_()


def neighbour_correlation(noisy, denoised):
    """Per picture, the correlation of the residual ``noisy - denoised`` with its right
    neighbour's, over the flattest pixels (see :func:`_flat_samples`): near 0 for white noise.

    Shape:
        - noisy, denoised: :math:`(N, C, H, W)`, values on the 0-255 scale
        - Output: :math:`(N,)`
    """
    residual, _, right = _flat_samples(noisy, denoised, neighbour=True)
    return _correlation(residual, right)


def level_and_correlation(noisy, denoised):
    """Per picture, from one sample of the flattest pixels (see :func:`_flat_samples`), the noise
    level of :func:`noise_level` (without a divergence) and the residual's correlation with its
    right neighbour's of :func:`neighbour_correlation`.

    Shape:
        - noisy, denoised: :math:`(N, C, H, W)`, values on the 0-255 scale
        - Output: ``(level, neighbour)``, each :math:`(N,)`
    """
    residual, brightness, right = _flat_samples(noisy, denoised, neighbour=True)
    return _level(*_variance_line(residual, brightness, None), denoised), _correlation(residual, right)


def level_and_colour_grain(noisy, denoised):
    """Per picture, from one sample of the flattest pixels (see :func:`_flat_samples`), the noise
    level of :func:`noise_level` (without a divergence) and the root mean square of the noisy
    picture's two colour differences less their four neighbours' mean: its finest colour
    texture, where the picture has no other. A camera's JPEG has little (its colour noise is
    coarse, its colour resolution halved), white noise in a lossless file and colour detail
    much more.

    Shape:
        - noisy, denoised: :math:`(N, 3, H, W)`, values on the 0-255 scale
        - Output: ``(level, grain)``, each :math:`(N,)`
    """
    residual, brightness, fine = _flat_samples(noisy, denoised, colour=True)
    return _level(*_variance_line(residual, brightness, None), denoised), fine.square().mean((1, 2)).sqrt_()


def residual_correlations(noisy, denoised):
    """Per picture, from one sample of the flattest pixels (see :func:`_flat_samples`), the
    residual's correlation with its right neighbour's (:func:`neighbour_correlation`) and the
    mean over the three pairs of channels of their residuals' correlation: both near 0 for
    noise drawn independently at each pixel and in each channel; the second 1 for a grey
    picture's.

    Shape:
        - noisy, denoised: :math:`(N, 3, H, W)`, values on the 0-255 scale
        - Output: ``(neighbour, channels)``, each :math:`(N,)`
    """
    residual, _, right = _flat_samples(noisy, denoised, neighbour=True)
    channels = sum(_correlation(residual[:, a:a + 1], residual[:, b:b + 1]) for a, b in ((0, 1), (1, 2), (0, 2))) / 3
    return _correlation(residual, right), channels


def _correlation(residual, right):
    """Per picture, the correlation of two ``(N, C, K)`` samples over all their values (the
    flattest pixels' residuals and their right neighbours', or two channels' residuals)."""
    residual = residual - residual.mean(2, keepdim=True)
    right = right - right.mean(2, keepdim=True)
    spread = (residual.square().sum((1, 2)) * right.square().sum((1, 2))).sqrt_().clamp_(min=1e-12)
    return (residual * right).sum((1, 2)) / spread


def _bands(h):
    """Bands of :data:`PERIOD` rows, in each of which the probe pattern is the same: the
    passes over whole pictures go band by band, so they need no picture-sized temporaries."""
    return [slice(top, min(h, top + PERIOD)) for top in range(0, h, PERIOD)]


def _blend(noisy, out, divergence):
    """Moves each picture of ``out`` toward ``noisy`` by the SURE-optimal amount, in place;
    ``divergence`` holds the denoiser's ``b (f(x + b) - f(x))`` per pixel."""
    alpha, beta = noise_variance(noisy, out, divergence)
    sigma = _level(alpha, beta, out)
    slope, floor = alpha.view(-1, 1, 1, 1), beta.view(-1, 1, 1, 1)
    residual = divergence.new_zeros(out.shape[0])
    keep = divergence.new_zeros(out.shape[0])
    for rows in _bands(out.shape[2]):
        y = out[:, :, rows].float()
        residual += (y - noisy[:, :, rows].float()).square_().sum((1, 2, 3))
        # Not in place: y may be out itself.
        keep += y.mul(slope).add_(floor).mul_(divergence[:, :, rows].neg().add_(1)).sum((1, 2, 3))
    weight = (keep / residual.clamp_(min=1e-12)).clamp_(0, 1)
    weight = weight.masked_fill_(sigma >= GATE, 1).view(-1, 1, 1, 1)
    for rows in _bands(out.shape[2]):
        x, y = noisy[:, :, rows].float(), out[:, :, rows]
        store(y, (y.float() - x).mul_(weight).add_(x).clamp_(0, 255))


def shrink_to_input(noisy, out, denoise):
    """Blends each lightly noisy picture of ``out`` (the denoiser's output for ``noisy``)
    back toward ``noisy`` as the module's documentation says, in place; returns ``out``.

    ``denoise(images, into)`` must write the same denoiser's output for ``images`` (floats
    on the 0-255 scale) into ``into`` (float, ``out``'s device); it runs once more, on the
    pictures whose noise level is measured below :data:`GATE` and whose residual is not
    correlated between neighbours (:data:`CORRELATED`) only; the correlated ones get
    :func:`.detail.give_back_detail`. ``out`` may be an
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
        level, neighbours = level_and_correlation(x, part)
        correlated = neighbours >= CORRELATED
        give_back_detail(x, part, level.masked_fill(~correlated, 0))
        low = ((level < GATE) & ~correlated).nonzero().flatten()
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
