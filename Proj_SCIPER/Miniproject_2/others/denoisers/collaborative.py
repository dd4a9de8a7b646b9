"""Collaborative Wiener filtering: BM3D's second stage, with a denoised picture as its pilot.

A camera's leftover noise is coarse and faint, and much of a photo repeats itself (a wall, a
sky, a row of letters). So, as BM3D's second stage does: for reference blocks of
:data:`BLOCK` x :data:`BLOCK` pixels, one every :data:`STEP` pixels, the :data:`GROUP` blocks
of the pilot that look most like it (the least squared difference of their luma) within
:data:`RADIUS` pixels are stacked; the stack of the *noisy* picture's blocks goes through a
3-D cosine transform (each block's 2-D one, then one across the stack), each coefficient is
scaled by ``P^2 / (P^2 + sigma^2)`` where ``P`` is the pilot's coefficient (an empirical Wiener
filter), and the blocks go back where they came from as a weighted mean (each stack weighing
``1 / sum of its scales squared`` times a Kaiser window, as BM3D weighs them). Done in an
opponent colour space (luma and two colour differences, orthonormal), the stacks found on
the luma (the colour differences may take a ``sigma`` of their own).

Unlike the pilot's own shrinkage (:mod:`.smoothing`), the estimate is built from the noisy
picture: fine detail the pilot smoothed away comes back where similar blocks agree on it.

Only the framework's tensor operations are used (``unfold``, ``topk``, ``index_select``,
``index_add_``, ``@``). The picture goes in strips of :data:`STRIP` rows, each with the rows
its stacks can reach around it, so memory stays bounded and the result is that of one pass.
"""
import math

import torch

from .smoothing import dct_matrix, opponent_matrix

#: Side of the blocks, in pixels.
BLOCK = 8
#: Pixels between reference blocks (the last row and column of blocks are always references).
#: BM3D's 3 gained 0.02-0.03 dB more on 10 PolyU pictures, at twice the cost.
STEP = 6
#: How far, in pixels, a block of a stack may lie from its reference, across and down.
RADIUS = 12
#: Blocks per stack (16 gained 0.04 dB less on 10 PolyU pictures).
GROUP = 32
#: Shape of the Kaiser window that weighs each block's pixels (BM3D's 2).
KAISER_BETA = 2.0
#: The least a stack's scales squared are taken to sum to, in its weight's ``1 / sum``.
KEPT = 1e-3
#: Reference blocks filtered at once (part of a row of them, or whole rows): bounds the stacks
#: held in memory (about 13 MB). Small batches are faster too: the allocator reuses their memory,
#: where batches of 2048 (100 MB) took fresh pages from the system each time (on a 512x512 PolyU
#: picture 1.2-1.4 s of system time against 0.1-0.3 s, 6.8-7.5 s/MP against 3.4-4.1).
REFERENCES = 256
#: Output rows computed at once.
STRIP = 256


def _kaiser(n, beta, like):
    """The ``n x n`` Kaiser window of shape ``beta``, flattened (the Bessel function ``I0`` from its series)."""
    def i0(x):
        return sum(((x / 2) ** k / math.factorial(k)) ** 2 for k in range(40))
    window = like.new_empty(n)
    for i in range(n):
        window[i] = i0(beta * math.sqrt(max(0.0, 1 - (2 * i / (n - 1) - 1) ** 2))) / i0(beta)
    return (window.view(n, 1) * window.view(1, n)).reshape(n * n)


def _grid(size, device):
    """Positions of the reference blocks along an axis of ``size`` pixels (at least :data:`BLOCK`)."""
    last = size - BLOCK
    grid = torch.arange(0, last + 1, STEP, device=device)
    if int(grid[-1]) != last:
        grid = torch.cat([grid, grid.new_empty(1).fill_(last)])
    return grid


def collaborative_wiener(noisy, pilot, levels, colour=1.0):
    """Each noisy picture filtered as the module's documentation says, its stacks found on
    ``pilot`` and its coefficients kept by the pilot's ``P^2 / (P^2 + level^2)``.

    Args:
        noisy: the noisy pictures, 0-255 (any dtype; not changed).
        pilot: an estimate of the clean pictures (floats, 0-255; not changed), e.g. a denoiser's output.
        levels: each picture's ``sigma`` in the Wiener scale (0-255 scale); 0 or less gives
            back the pilot.
        colour: the colour differences' ``sigma`` relative to the luma's.

    Shape:
        - noisy, pilot: :math:`(N, 3, H, W)`; levels: :math:`(N,)`
        - Output: :math:`(N, 3, H, W)`, floats in [0, 255]; a picture smaller than :data:`BLOCK`
          a side comes back as its pilot.
    """
    n, c, h, w = pilot.shape
    if c != 3:
        raise ValueError(f"collaborative_wiener: pictures must have 3 channels, got {c}")
    if noisy.shape != pilot.shape:
        raise ValueError(f"collaborative_wiener: noisy {tuple(noisy.shape)} and pilot {tuple(pilot.shape)} differ")
    out = pilot.clone()
    if h < BLOCK or w < BLOCK:
        return out
    like = pilot.new_empty(0, dtype=torch.float32)
    opponent, dct = opponent_matrix(like), dct_matrix(BLOCK, like)
    spectrum = (dct.view(BLOCK, 1, BLOCK, 1) * dct.view(1, BLOCK, 1, BLOCK)).reshape(BLOCK ** 2, BLOCK ** 2)
    tools = (spectrum, dct_matrix(GROUP, like), _kaiser(BLOCK, KAISER_BETA, like))
    rows, cols = _grid(h, pilot.device), _grid(w, pilot.device)
    # A stack touches rows up to RADIUS + BLOCK - 1 from its reference, whose candidates reach
    # RADIUS further: with that much around a strip, the strip's rows come out as in one pass.
    reach = 2 * RADIUS + BLOCK
    for i in range(n):
        level = float(levels[i])
        if level <= 0:
            continue
        by_channel = like.new_empty(3, 1, 1).fill_(level * colour)
        by_channel[0] = level
        for top in range(0, h, STRIP):
            bottom = min(h, top + STRIP)
            first, last = max(0, top - reach), min(h, bottom + reach)
            refs = rows[(rows > top - RADIUS - BLOCK) & (rows < bottom + RADIUS)] - first
            x = (opponent @ noisy[i, :, first:last].to(like).reshape(3, -1)).view(3, last - first, w)
            p = (opponent @ pilot[i, :, first:last].to(like).reshape(3, -1)).view(3, last - first, w)
            filtered = _filter(x, p, refs, cols, by_channel, tools)[:, top - first:bottom - first]
            out[i, :, top:bottom] = (opponent.t() @ filtered.reshape(3, -1)).view(3, bottom - top, w).clamp_(0, 255)
    return out


def _match(padded, rows, cols):
    """For reference blocks at ``rows`` x ``cols`` of a luma (H, W) given with :data:`RADIUS`
    zeros around it (``padded``), the top rows and left columns of the :data:`GROUP` blocks
    within :data:`RADIUS` most like each (itself first, the nearest next), each
    ``(GROUP, len(rows) * len(cols))``. Only the columns those blocks can reach are read."""
    h, w = padded.shape[0] - 2 * RADIUS, padded.shape[1] - 2 * RADIUS
    side = 2 * RADIUS + 1
    offsets = torch.arange(-RADIUS, RADIUS + 1, device=padded.device)
    top, bottom = int(rows[0]), int(rows[-1]) + BLOCK
    left, right = int(cols[0]), int(cols[-1]) + BLOCK
    reference = padded[RADIUS + top:RADIUS + bottom, RADIUS + left:RADIUS + right].unsqueeze(1)
    distance = padded.new_empty(len(rows), side, side, len(cols))
    for j, dy in enumerate(offsets.tolist()):
        # Every horizontal offset at once: (rows of the band, offsets, columns).
        shifted = padded[top + dy + RADIUS:bottom + dy + RADIUS, left:right + 2 * RADIUS].unfold(1, right - left, 1)
        squares = (reference - shifted).square_()
        squares = squares.unfold(0, BLOCK, 1).index_select(0, rows - top).sum(-1)
        distance[:, j] = squares.unfold(2, BLOCK, 1).index_select(2, cols - left).sum(-1)
    down = rows.view(-1, 1) + offsets.view(1, -1)
    across = cols.view(-1, 1) + offsets.view(1, -1)
    inside = ((down >= 0) & (down <= h - BLOCK)).view(-1, side, 1, 1) & \
        ((across >= 0) & (across <= w - BLOCK)).t().reshape(1, 1, side, -1)
    distance.masked_fill_(~inside, float("inf"))
    distance[:, RADIUS, RADIUS] = -1
    distance = distance.permute(0, 3, 1, 2).reshape(len(rows), len(cols), side * side)
    nearest = distance.topk(GROUP, dim=2, largest=False)
    # A picture too small to offer GROUP blocks repeats the reference in their place.
    best = nearest.indices.masked_fill_(nearest.values.isinf(), RADIUS * side + RADIUS)
    down = rows.view(-1, 1, 1) + offsets[best.div(side, rounding_mode="floor")]
    across = cols.view(1, -1, 1) + offsets[best.remainder(side)]
    return down.view(-1, GROUP).t(), across.view(-1, GROUP).t()


def _filter(x, p, rows, cols, levels, tools):
    """The opponent-colour strip ``x`` (3, H, W) filtered with the pilot ``p`` by the stacks of
    reference blocks at ``rows`` x ``cols``, each channel at its ``sigma`` of ``levels`` (3, 1, 1);
    pixels no stack covers are 0."""
    spectrum, across_stack, window = tools
    _, h, w = x.shape
    area = BLOCK * BLOCK
    both = torch.cat([x, p])
    every_block = both.unfold(1, BLOCK, 1).unfold(2, BLOCK, 1)
    sums = both.new_zeros(6, h * w)
    pixels = (torch.arange(BLOCK, device=x.device).view(BLOCK, 1) * w +
              torch.arange(BLOCK, device=x.device).view(1, BLOCK)).view(1, 1, area)
    chunk = min(len(cols), REFERENCES)
    band = max(1, REFERENCES // chunk)
    # The luma with the search's reach of zeros around it, once for every batch of references.
    padded = p.new_zeros(h + 2 * RADIUS, w + 2 * RADIUS)
    padded[RADIUS:RADIUS + h, RADIUS:RADIUS + w] = p[0]
    batches = [(rows[r:r + band], cols[c:c + chunk]) for r in range(0, len(rows), band)
               for c in range(0, len(cols), chunk)]
    for batch_rows, batch_cols in batches:
        down, across = _match(padded, batch_rows, batch_cols)
        # (channels, stack, reference, pixel): the transform across the stack is then one
        # product per channel.
        blocks = every_block[:, down, across].view(6, GROUP, -1, area)
        coefficients = across_stack @ (blocks @ spectrum.t()).view(6, GROUP, -1)
        del blocks
        noisy, scale = coefficients[:3], coefficients[3:].square_()
        scale = scale.div_(scale + levels.square())
        estimate = (across_stack.t() @ noisy.mul_(scale)).view(3, GROUP, -1, area) @ spectrum
        # A stack that keeps nothing (a flat colour difference) would weigh infinitely: bounded.
        weight = scale.square_().view(3, GROUP, -1, area).sum((1, 3), keepdim=True)
        weight = weight.clamp_(min=KEPT).reciprocal_().mul(window).expand(3, GROUP, -1, area)
        index = ((down * w + across).unsqueeze(2) + pixels).reshape(-1)
        sums.index_add_(1, index, torch.cat([estimate.mul_(weight), weight]).view(6, -1))
    return (sums[:3] / sums[3:].clamp_(min=1e-30)).view(3, h, w)
