"""Scratch memory for a convolution's one large temporary, kept between calls.

Each convolution builds one matrix several times its input's size (the im2col
matrix, or the product that col2im sums), uses it at once and drops it. Freshly
allocated, such a matrix (often beyond the C allocator's mapping threshold) comes
from newly mapped pages that the kernel must fault in and zero on first touch, every
call; for the seed report's network that was a visible share of a training step.
Reusing one buffer avoids it. It works like torch's CUDA
caching allocator: the buffer grows to the largest request and is kept (one per
thread, device and dtype) until :func:`empty_cache`.
"""
import math
import threading

_local = threading.local()


def scratch(shape, like):
    """An uninitialised tensor of ``shape`` with ``like``'s dtype and device.

    Its memory is reused by the next call on this thread, so it must be consumed
    before then and never returned to a caller.
    """
    buffers = _local.__dict__.setdefault("buffers", {})
    key, numel = (like.dtype, like.device), math.prod(shape)
    buffer = buffers.get(key)
    if buffer is None or buffer.numel() < numel:
        buffer = buffers[key] = like.new_empty(numel)
    return buffer[:numel].view(shape)


def empty_cache():
    """Free this thread's scratch buffers (the next convolution allocates afresh)."""
    _local.__dict__.pop("buffers", None)
