"""Prediction in pieces of bounded size: batches of small pictures, tiles of large ones."""
import math

#: The course's network downsamples by 4: its tiles start on that grid so that each one
#: sees its pixels exactly as a single pass over the whole picture would.
GRID = 4
#: Pixels that the steps after the network (``clipping.py``, ``shrinkage.py``) handle at
#: once: that many pixels' worth of whole small pictures, or rows of a large one.
BATCH_PIXELS = 2 ** 21


def picture_batches(n, h, w):
    """``(start, stop)`` of consecutive batches of ``n`` pictures of ``h`` x ``w``, each of at
    most :data:`BATCH_PIXELS` pixels (a larger picture goes alone)."""
    per_batch = max(1, BATCH_PIXELS // (h * w))
    return [(start, min(n, start + per_batch)) for start in range(0, n, per_batch)]


def margin(kernel_down, kernel_up):
    """Context, in pixels, that a tile needs around it for the course's network.

    An output pixel depends on input pixels less than ``3 kernel_down`` away through
    the two stride-2 convolutions and ``3 padding_up + 6`` (at most ``1.5 kernel_up + 6``)
    through the two upsamplings; this bound is larger and a multiple of :data:`GRID`.
    """
    return GRID * (kernel_down + kernel_up + 2)


def predict_in_pieces(run, x, out, context, pixels, grid=GRID):
    """``out[...] = run(x[...])`` piece by piece, never running more than about ``pixels``
    pixels at once; returns ``out``.

    ``run`` maps 0-255 images of any size to floats in [0, 255]. Pictures of at most
    ``pixels`` pixels go in batches; a larger one goes in square tiles, each run with
    ``context`` pixels around it (a multiple of ``grid``, the network's downsampling
    factor) of which only the centre is kept. An integer ``out`` (a uint8 picture)
    receives rounded values.
    """
    n, _, h, w = x.shape
    if h * w <= pixels:
        chunk = pixels // (h * w)
        for start in range(0, n, chunk):
            store(out[start:start + chunk], run(x[start:start + chunk]))
        return out
    tile = max(grid, (math.isqrt(pixels) - 2 * context) // grid * grid)
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            y0, x0 = max(0, top - context), max(0, left - context)
            y1, x1 = min(h, top + tile + context), min(w, left + tile + context)
            for i in range(n):
                piece = run(x[i:i + 1, :, y0:y1, x0:x1])
                store(out[i:i + 1, :, top:top + tile, left:left + tile],
                       piece[:, :, top - y0:top - y0 + tile, left - x0:left - x0 + tile])
    return out


def store(target, values):
    """``target[...] = values``, rounded first if ``target`` is an integer tensor (a uint8 picture)."""
    target.copy_(values if target.is_floating_point() else values.round())


def check_out(out, x, what):
    """``out`` for a prediction of ``x``: a tensor of ``x``'s shape (any dtype, any device)."""
    if not (hasattr(out, "shape") and hasattr(out, "copy_")) or tuple(out.shape) != tuple(x.shape):
        raise ValueError(f"{what}: out must be a tensor of the input's shape {tuple(x.shape)}, got "
                         f"{tuple(out.shape) if hasattr(out, 'shape') else type(out).__name__}")
