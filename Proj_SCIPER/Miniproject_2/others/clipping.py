"""The clipped Gaussian noise of a picture file, and keeping a denoised picture's colour true to it.

A noisy picture file holds ``clip(clean + sigma z, 0, 255)``: near black and white the
clipping moves the noisy picture's mean away from the clean one, by as much as 0.4 sigma
at the bounds. A denoiser that misjudges how much to move it back shifts colours (mostly
in bright skies and dark shadows, and most at high noise). The statistics of clipped
noise are known in closed form, so a denoised picture ``y`` can be checked against the
noisy picture it came from: under the noise model, each pixel of the noisy picture has
the expectation ``E[clip(y + sigma z)]``. :func:`match_colour` estimates ``sigma`` from
the picture itself and shifts each channel of ``y`` so that these expectations average
to the noisy picture's mean, the one unbiased witness of the clean colour a single noisy
picture holds.
"""
import math

import torch

from .tiles import BATCH_PIXELS, picture_batches, store

#: The brightest level of a picture file.
TOP = 255.0
#: Pixels per picture that the clipping statistics are computed on: a regular subsample of
#: larger pictures, so that time and memory stay bounded. Means of the pictures themselves
#: are taken over every pixel; only the corrections for clipping, smooth functions of the
#: denoised picture that are zero away from the bounds, and the noise level come from the
#: subsample.
SAMPLE = 2 ** 12
#: Bisection steps of :func:`estimate_sigma` on [0, 255]: within 0.06 levels.
BISECTIONS = 12
#: Newton steps of the shift; the second corrects the curvature of the clipped mean near
#: the bounds.
NEWTON = 2
#: Rounds of estimating the noise level, then the shift, each from the other's last value.
ROUNDS = 2
#: Least mean slope of the clipped mean that a shift is divided by: a picture almost all
#: clipped holds almost no witness of its colour, and is then shifted at most 5x its residual.
MIN_SLOPE = 0.2


def _normal_cdf(t):
    return t.mul(1 / math.sqrt(2)).erf_().add_(1).mul_(0.5)


def _normal_pdf(t):
    return t.square().mul_(-0.5).exp_().mul_(1 / math.sqrt(2 * math.pi))


def clipped_moments(mean, sigma):
    """Elementwise moments of ``clip(mean + sigma z, 0, 255)`` for a standard normal ``z``.

    Returns ``(expectation, variance, slope)``, ``slope`` being the derivative of the
    expectation with respect to ``mean``: the probability that a pixel is not clipped.
    ``sigma`` must be positive (broadcast against ``mean``).

    Shape:
        - mean: any shape; sigma: broadcastable to it
        - Output: three tensors of the broadcast shape
    """
    low, high = mean.neg().div(sigma), mean.neg().add(TOP).div(sigma)
    cdf_low, cdf_high = _normal_cdf(low), _normal_cdf(high)
    pdf_low, pdf_high = _normal_pdf(low), _normal_pdf(high)
    inside, above = cdf_high - cdf_low, cdf_high.neg().add_(1)
    dpdf = pdf_low - pdf_high
    first = mean * inside + sigma * dpdf + TOP * above
    # E[x^2] over the three parts: clipped at 0 (adds 0), inside, clipped at 255.
    second = (TOP * TOP * above + mean * mean * inside + 2 * mean * sigma * dpdf
              + sigma * sigma * (inside + low * pdf_low - high * pdf_high))
    return first, (second - first * first).clamp_(min=0), inside


def _sample(pictures):
    """``(N, C, P)``: at most :data:`SAMPLE` regularly spaced pixels of each picture, as floats."""
    n, c = pictures.shape[:2]
    flat = pictures.reshape(n, c, -1)
    step = -(-flat.shape[2] // SAMPLE)
    return flat[:, :, ::step].float()


def estimate_sigma(noisy, denoised):
    """Per picture, the noise level under which ``noisy`` is most plausibly a noisy file of
    ``denoised``: the sigma at which the mean squared residual ``noisy - E[noisy]`` equals the
    mean variance of clipped noise (moment matching, by bisection on [0, 255]; on at most
    :data:`SAMPLE` pixels of each picture).

    Shape:
        - noisy, denoised: :math:`(N, C, H, W)`, values on the 0-255 scale
        - Output: :math:`(N, 1, 1)`
    """
    return _sigma(_sample(noisy), _sample(denoised).clamp_(0, TOP))


def _sigma(x, y):
    """:func:`estimate_sigma` of ``(N, C, P)`` samples."""
    low = x.new_zeros(x.shape[0], 1, 1)
    high = low + TOP
    for _ in range(BISECTIONS):
        sigma = (low + high).mul_(0.5)
        expectation, variance, _ = clipped_moments(y, sigma)
        # Too little noise explains the residual when its variance falls short of it.
        short = variance.mean((1, 2), keepdim=True) < (x - expectation).square_().mean((1, 2), keepdim=True)
        low, high = sigma.where(short, low), high.where(short, sigma)
    return (low + high).mul_(0.5)


def _channel_means(pictures):
    """``(N, C, 1)`` float means over every pixel, without a float copy of the pictures."""
    return pictures.sum((2, 3), dtype=torch.float64).div_(pictures.shape[2] * pictures.shape[3]).float().unsqueeze(2)


def colour_shift_of(noisy, denoised):
    """Per picture and channel, the shift ``s`` after which the expected noisy picture of
    ``clip(denoised + s)`` averages to ``noisy``'s mean (see the module's documentation).

    Shape:
        - noisy, denoised: :math:`(N, C, H, W)`, values on the 0-255 scale
        - Output: :math:`(N, C, 1, 1)`
    """
    x, y = _sample(noisy), _sample(denoised)
    target, start = _channel_means(noisy), _channel_means(denoised)
    shift = target.new_zeros(target.shape)
    for _ in range(ROUNDS):
        # A colour that is off near the bounds misjudges the noise, and the other way round.
        sigma = _sigma(x, (y + shift).clamp_(0, TOP)).clamp_(min=1e-3)
        for _ in range(NEWTON):
            moved = y + shift
            expectation, _, slope = clipped_moments(moved.clamp(0, TOP), sigma)
            # The mean of E[noisy] is the denoised mean moved by the shift, plus what
            # clipping the output and then the noise add: nothing away from the bounds.
            mean = start + shift + (expectation - moved).mean(2, keepdim=True)
            shift += (target - mean) / slope.mean(2, keepdim=True).clamp_(min=MIN_SLOPE)
    return shift.unsqueeze(3)


def match_colour(noisy, denoised):
    """``denoised`` with each channel shifted as :func:`colour_shift_of` says, in place,
    then clipped to [0, 255] (rounded if it is an integer tensor); returns it.

    Pictures go in batches of :func:`~.tiles.picture_batches`, large ones by rows; the
    statistics use at most :data:`SAMPLE` pixels of each picture, so memory stays bounded
    for any size.

    Shape:
        - noisy: :math:`(N, C, H, W)`, 0-255; denoised: the same shape, any dtype and device
    """
    n, _, h, w = noisy.shape
    for start, stop in picture_batches(n, h, w):
        part = denoised[start:stop]
        shift = colour_shift_of(noisy[start:stop].to(part.device), part)
        rows = max(1, BATCH_PIXELS // ((stop - start) * w))
        for top in range(0, h, rows):
            block = part[:, :, top:top + rows]
            store(block, block.float().add_(shift).clamp_(0, TOP))
    return denoised
