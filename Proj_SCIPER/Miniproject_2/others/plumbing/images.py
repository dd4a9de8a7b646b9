"""Turning user tensors of 0-255 images into network inputs."""
import warnings

import torch

from ..kernels.layout import nchw


#: The values a training target may hold: a Noise2Noise target is a noisy picture, and
#: noise left unclipped (so that it keeps a zero mean near black and white) leaves 0-255.
TARGET_RANGE = (-255, 510)


def check_images(x, what, multiple=1, value_range=(0, 255)):
    """An ``(N, 3, H, W)`` uint8 or floating tensor of 0-255 values, H and W multiples of ``multiple``.

    Anything else raises naming the problem: values outside ``value_range`` (or NaN) are
    refused, since the network would silently map them into 0-255. A floating input whose values
    all lie in [0, 1] is most likely a picture on the wrong scale: that gets a warning
    (once per call site, Python's default), not an error, since a very dark picture is
    legitimate.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{what}: expected shape (N, 3, H, W), got {tuple(x.shape)}")
    if not (x.is_floating_point() or x.dtype == torch.uint8):
        raise TypeError(f"{what}: expected uint8 or floating values in 0-255, got {x.dtype}")
    if min(x.shape) == 0:
        raise ValueError(f"{what}: got an empty tensor of shape {tuple(x.shape)}")
    if x.shape[2] % multiple or x.shape[3] % multiple:
        raise ValueError(f"{what}: height and width must be multiples of {multiple} here, got "
                         f"{x.shape[2]}x{x.shape[3]}")
    if x.is_floating_point():
        low, high = x.detach().aminmax()
        low, high = low.item(), high.item()
        # NaN fails both comparisons.
        bottom, top = value_range
        if not (bottom <= low and high <= top):
            raise ValueError(f"{what}: values must lie in [{bottom}, {top}], got values from {low} to {high}")
        if 0 < high <= 1:
            warnings.warn(f"{what}: all values lie in [0, 1]; this model expects pictures on the 0-255 "
                          "scale (multiply by 255)", stacklevel=3)


def check_pairs(train_input, train_target, multiple, what):
    """Training pairs for ``what`` (``"Model.train"``): inputs as :func:`check_images` takes
    them, targets of the same shape that may hold values in :data:`TARGET_RANGE`."""
    check_images(train_input, f"{what}: train_input", multiple)
    check_images(train_target, f"{what}: train_target", multiple, TARGET_RANGE)
    if train_input.shape != train_target.shape:
        raise ValueError(f"{what}: train_input {tuple(train_input.shape)} and train_target "
                         f"{tuple(train_target.shape)} differ in shape")


def check_finite(x, what):
    """A tensor without NaN or infinities (any values otherwise); anything else raises naming it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() and not bool(x.isfinite().all()):
        raise ValueError(f"{what}: values must be finite, got NaN or infinity")


def to_unit(x, device, dtype):
    """0-255 images -> a new channels-last tensor in [0, 1] on ``device`` (input untouched)."""
    n, c, h, w = x.shape
    out = x.new_empty((n, h, w, c), device=device, dtype=dtype)
    # detach: the caller's autograd graph must not grow into the network.
    out.copy_(x.detach().permute(0, 2, 3, 1))
    return nchw(out.mul_(1 / 255))


def epoch_batches(n, batch_size, rng):
    """The batches of one training epoch: ``(indices, k)`` pairs.

    The ``n`` pairs are shuffled with ``rng`` (a ``random.Random``) and cut into
    batches; each batch gets the ``k``-th of the 8 flips/rotations (see :func:`dihedral`),
    applied identically to both images of every pair. The torch.nn twin draws its
    batches here too, so with the same seed both see the same data in the same order.
    """
    order = list(range(n))
    rng.shuffle(order)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size], rng.randrange(8)


def dihedral(x, k):
    """The k-th of the 8 flips/rotations of a square (k in 0..7), as a view or one copy."""
    if k & 4:
        x = x.transpose(2, 3)
    dims = [d for bit, d in ((1, 2), (2, 3)) if k & bit]
    return x.flip(dims) if dims else x


def undo_dihedral(x, k):
    """Inverse of :func:`dihedral`: ``undo_dihedral(dihedral(x, k), k)`` is ``x``, for any H and W."""
    dims = [d for bit, d in ((1, 2), (2, 3)) if k & bit]
    if dims:
        x = x.flip(dims)
    return x.transpose(2, 3) if k & 4 else x


def reflect_pad(x, multiple):
    """Pad H and W at the end, by reflection, up to a multiple of ``multiple``."""
    h, w = x.shape[2:]
    ph, pw = -h % multiple, -w % multiple
    if ph == pw == 0:
        return x
    return x.index_select(2, _reflect_index(h, h + ph, x)).index_select(3, _reflect_index(w, w + pw, x))


def _reflect_index(size, padded, like):
    index = torch.arange(padded, device=like.device)
    # Mirror without repeating the edge pixel; a 1-pixel axis can only repeat it.
    return index.where(index < size, 2 * (size - 1) - index).clamp(min=0)
