"""Scratch memory for a convolution's temporaries, kept between calls.

Each convolution builds a temporary as large as its input or several times larger
(the padded input with its im2col blocks, or the products that col2im sums), uses it
at once and drops it. Freshly allocated, such a tensor (often beyond the C allocator's
mapping threshold) comes
from newly mapped pages that the kernel must fault in and zero on first touch, every
call; for the seed report's network that was a visible share of a training step.
Reusing one buffer avoids it. It works like torch's CUDA
caching allocator: the buffer grows to the largest request and is kept (one per
thread, device and dtype) until :func:`empty_cache`.

The buffer is lent for a ``with`` block: the caller that consumes it is the one that
asks for it, and its lifetime is the block's. A request made while the buffer is lent
gets fresh memory, so two scratch tensors in use never share memory whatever order the
calls come in; only the speed depends on not nesting them.
"""
import contextlib
import math
import threading

_local = threading.local()


@contextlib.contextmanager
def scratch(shape, like, dtype=None):
    """Lend an uninitialised tensor of ``shape`` on ``like``'s device, in ``dtype`` (``like``'s
    if ``None``), for the ``with`` block; nothing computed inside may keep a view of it past
    the block."""
    buffers = _local.__dict__.setdefault("buffers", {})
    dtype = dtype or like.dtype
    key, numel = (dtype, like.device), math.prod(shape)
    # Taken out of the pool while lent: a nested request cannot be handed the same memory.
    buffer = buffers.pop(key, None)
    if buffer is None or buffer.numel() < numel:
        buffer = like.new_empty(numel, dtype=dtype)
    try:
        yield buffer[:numel].view(shape)
    finally:
        kept = buffers.get(key)
        if kept is None or kept.numel() < buffer.numel():
            buffers[key] = buffer


def empty_cache():
    """Free this thread's scratch buffers (the next convolution allocates afresh)."""
    _local.__dict__.pop("buffers", None)
