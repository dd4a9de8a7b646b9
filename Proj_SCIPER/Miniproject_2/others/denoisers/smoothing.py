"""Smoothing beyond the blind result, for ``predict(x, strength=s)`` with ``s > 1``.

What a denoiser leaves of a real photo's noise is faint, blotchy texture (a camera's noise
is coarser than any it was trained on, docs/real-noise.md). In the local cosine transform of
the denoised picture it sits in the weak coefficients, below the scene's edges and texture.
So the denoised picture is taken apart into overlapping blocks of :data:`BLOCK` pixels a
side, one every :data:`STEP` pixels, in an opponent colour space (luma and two colour
differences, an orthonormal change of basis); each block's cosine-transform coefficients
``c`` are scaled by ``c^2 / (c^2 + t^2)``, an empirical Wiener filter whose pilot is the
picture itself (BM3D's second stage, without its grouping of similar blocks); the blocks are
put back as a weighted mean, each weighing ``1 / sum of its scales squared`` (BM3D's weight:
a block that kept less is the smoother estimate). Each block's mean is kept, and with it the
picture's brightness and colours.

The threshold ``t`` is ``(s - 1)`` :data:`SCALE` times the picture's noise level as the blind
result's residual shows it (:func:`.shrinkage.noise_level`) for the luma, :data:`COLOUR`
times that for the colour differences. The blocks are large because a camera's leftover
noise is coarse: on PolyU, blocks of 8 pixels gained half as much as blocks of 32.

Only the framework's tensor operations are used (``fold`` / ``unfold``, ``@``, ``cos``).
"""
import math

import torch
from torch.nn.functional import fold, unfold

#: Side of the blocks, in pixels.
BLOCK = 32
#: Pixels between neighbouring blocks: every pixel lies in ``(BLOCK / STEP)^2`` of them. A step
#: of 8 (16 blocks a pixel) gained 0.04 dB more on PolyU at five times the cost.
STEP = 16
#: Threshold per unit of strength above 1, in units of the measured noise level.
SCALE = 4.0
#: The colour differences' threshold relative to the luma's: a camera's leftover colour
#: noise is weaker than its luma noise, and a scene's colour detail fainter.
COLOUR = 0.6
#: Output rows smoothed at once (a multiple of :data:`STEP`): bounds the blocks held in memory
#: (about 25 MB a copy for a picture 6,000 pixels wide).
BAND = 64
#: Rows of the opponent colour transform, before normalisation: mean, red - blue, green against the rest.
OPPONENT = ((1.0, 1.0, 1.0), (1.0, 0.0, -1.0), (1.0, -2.0, 1.0))


def opponent_matrix(like):
    """The orthonormal 3 x 3 opponent transform, in ``like``'s dtype and device."""
    matrix = torch.empty(3, 3, dtype=like.dtype, device=like.device)
    for i, row in enumerate(OPPONENT):
        norm = math.sqrt(sum(v * v for v in row))
        for j, v in enumerate(row):
            matrix[i, j] = v / norm
    return matrix


def dct_matrix(n, like):
    """The orthonormal DCT-II matrix of size ``n`` (row ``k`` is the ``k``-th cosine)."""
    k = torch.arange(n, dtype=like.dtype, device=like.device).view(n, 1)
    i = torch.arange(n, dtype=like.dtype, device=like.device).view(1, n)
    matrix = (k * (2 * i + 1) * (math.pi / (2 * n))).cos_().mul_(math.sqrt(2 / n))
    matrix[0].mul_(math.sqrt(0.5))
    return matrix


def _mirror(size, before, after, device):
    """Indices of an axis of ``size`` extended by ``before`` and ``after`` mirrored pixels
    (the edge pixel not repeated; a 1-pixel axis repeats it; any extension length)."""
    index = torch.arange(-before, size + after, device=device)
    if size == 1:
        return index.mul_(0)
    period = 2 * (size - 1)
    index = index.remainder(period)
    return index.where(index < size, period - index)


def shrink_coefficients(pictures, thresholds, colour=COLOUR):
    """Each picture smoothed as the module's documentation says, with its own thresholds.

    Args:
        pictures: the denoised pictures, floats on the 0-255 scale (not changed).
        thresholds: the luma's threshold ``t`` of each picture (0-255 scale, at least 0);
            0 leaves the picture as it is.
        colour: the colour differences' threshold relative to the luma's.

    Shape:
        - pictures: :math:`(N, 3, H, W)`; thresholds: :math:`(N,)`
        - Output: :math:`(N, 3, H, W)`, floats in [0, 255]
    """
    n, c, h, w = pictures.shape
    if c != 3:
        raise ValueError(f"shrink_coefficients: pictures must have 3 channels, got {c}")
    out = pictures.clone()
    pad = BLOCK - STEP
    # Past the last pixel, the blocks' grid is completed to a whole number of steps.
    rows = _mirror(h, pad, pad + (-(h + 2 * pad - BLOCK)) % STEP, pictures.device)
    cols = _mirror(w, pad, pad + (-(w + 2 * pad - BLOCK)) % STEP, pictures.device)
    opponent, dct = opponent_matrix(pictures), dct_matrix(BLOCK, pictures)
    for i in range(n):
        t = float(thresholds[i])
        if t <= 0:
            continue
        levels = pictures.new_empty(3, 1, 1, 1).fill_(t * colour)
        levels[0] = t
        for top in range(0, h, BAND):
            bottom = min(h, top + BAND)
            # Rows of the band and the blocks' reach around it, mirrored where outside (the
            # last band down to the grid's end).
            reach = rows[top:bottom + 2 * pad if bottom < h else None]
            band = pictures[i].index_select(1, reach).index_select(2, cols)
            smoothed = _shrink_band((opponent @ band.reshape(3, -1)).view(band.shape), levels, dct)
            kept = smoothed[:, pad:pad + bottom - top, pad:pad + w].reshape(3, -1)
            out[i, :, top:bottom] = (opponent.t() @ kept).view(3, bottom - top, w).clamp_(0, 255)
    return out


def _shrink_band(band, levels, dct):
    """A ``(3, H, W)`` band in opponent colours, every block shrunk and the blocks put back."""
    size = band.shape[1:]
    blocks = unfold(band.unsqueeze(0), BLOCK, stride=STEP).view(3, BLOCK, BLOCK, -1).permute(0, 3, 1, 2)
    coefficients = dct @ blocks @ dct.t()
    del blocks
    scale = coefficients.square()
    scale = scale.div_(scale + levels.square())
    scale[:, :, 0, 0] = 1
    coefficients.mul_(scale)
    weight = scale.square_().sum((2, 3)).reciprocal_()
    del scale
    estimate = (dct.t() @ coefficients @ dct).mul_(weight.view(3, -1, 1, 1))
    del coefficients
    estimate = estimate.permute(0, 2, 3, 1).reshape(1, 3 * BLOCK * BLOCK, -1)
    weights = weight.view(3, 1, -1).expand(3, BLOCK * BLOCK, -1).reshape(1, 3 * BLOCK * BLOCK, -1)
    return fold(estimate, size, BLOCK, stride=STEP)[0] / fold(weights, size, BLOCK, stride=STEP)[0]
