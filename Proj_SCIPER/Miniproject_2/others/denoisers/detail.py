"""Giving back detail that a blind denoiser took for noise, where the noise is not white.

Shown noise unlike its training's, a network can take fine regular detail (a mesh, a
fabric's weave) for noise and flatten it: on PolyU the camera model greys the mesh of a
Nikon D800 photo and comes out 0.9 dB worse than its input. Where the noise is white,
Stein's estimate says how far to move a whole picture back toward its input
(:mod:`.shrinkage`); where the noise is correlated it does not hold, and this local check
is used instead.

Noise alone leaves a residual ``x - y`` (input minus output) of about the noise level
everywhere, a little above it where the noise is brighter. So where the residual's root mean
square ``r`` over the :data:`WINDOW` x :data:`WINDOW` pixels around a pixel (and its three
channels) stands above :data:`RATIO` times the level, more than the energy noise leaves was
removed there, and the pixel is moved back toward its input by ``1 - (RATIO level / r)^2``
of the way: nothing where the residual is noise, nearly all the way where it is mostly
detail. On PolyU the camera model then makes no picture worse (2 of 100 before) and gains
0.03 dB more; white, JPEG'd and grey synthetic noise is left as it was
(docs/real-noise.md).

Only the framework's tensor operations are used (``cumsum``, ``index_select``, ``cat``).
"""
import torch

from .tiles import store

#: Side of the window the residual's level is measured over, in pixels (odd).
WINDOW = 17
#: How far above the noise level (root mean square) a window's residual must be to hold detail.
RATIO = 3.0
#: Output rows handled at once (at least ``WINDOW // 2``, the windows' reach): bounds the float64
#: copies (about 6 MB for a picture 6,000 pixels wide).
BAND = 64


def _window_sums(values, lo, hi, dim):
    """Sums of ``values`` along ``dim`` from index ``lo[i]`` (included) to ``hi[i]`` (excluded)."""
    sums = values.cumsum(dim)
    zero = sums.narrow(dim, 0, 1).mul(0)
    sums = torch.cat([zero, sums], dim)
    return sums.index_select(dim, hi) - sums.index_select(dim, lo)


def _reach(size, start, stop, device):
    """Per index of ``[start, stop)`` of an axis of ``size``, the window's bounds within the axis."""
    index = torch.arange(start, stop, device=device)
    half = WINDOW // 2
    return index.sub(half).clamp_(min=0), index.add(half + 1).clamp_(max=size)


def give_back_detail(noisy, out, levels):
    """Moves the pixels of ``out`` whose neighbourhood's residual stands above the noise level
    back toward ``noisy``, as the module's documentation says, in place; returns ``out``.

    Args:
        noisy: the noisy pictures, 0-255 (any dtype; not changed).
        out: the denoiser's output for them (any dtype: an integer one is rounded).
        levels: each picture's noise level (root mean square, 0-255 scale); a level of 0
            leaves its picture as it is.

    Shape:
        - noisy, out: :math:`(N, C, H, W)`; levels: :math:`(N,)`
    """
    n, _, h, w = out.shape
    cols = _reach(w, 0, w, out.device)
    for i in range(n):
        floor = (RATIO * float(levels[i])) ** 2
        if floor <= 0:
            continue
        # A band is written once the next one has been measured, whose windows reach into it.
        pending = None
        for top in range(0, h, BAND):
            bottom = min(h, top + BAND)
            rows = _reach(h, top, bottom, out.device)
            first, last = int(rows[0][0]), int(rows[1][-1])
            x = noisy[i, :, first:last].to(out.device, torch.float64)
            energy = (out[i, :, first:last] - x).square_().mean(0)
            energy = _window_sums(_window_sums(energy, *cols, 1), rows[0] - first, rows[1] - first, 0)
            count = (rows[1] - rows[0]).view(-1, 1) * (cols[1] - cols[0]).view(1, -1)
            weight = energy.div_(count).clamp_(min=floor).reciprocal_().mul_(-floor).add_(1)
            x = x[:, top - first:bottom - first]
            y = out[i, :, top:bottom]
            if pending is not None:
                store(*pending)
            pending = y, (x - y).mul_(weight).add_(y).clamp_(0, 255)
        store(*pending)
    return out
