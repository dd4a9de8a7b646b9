"""What the two pooling layers share: torch's window arguments and the window's taps."""
from ..plumbing.args import LARGEST, only, pair
from ..kernels.layout import is_channels_last, new_nchw
from .module import Module


def _axis_taps(kernel, stride, padding, size, out_size):
    """One axis: for each tap ``i`` of the window, ``(i, outputs, inputs)``, the slice of
    output positions ``o`` whose window reads a real (not padding) pixel at tap ``i``, and
    the slice of those pixels ``o * stride - padding + i``. Taps that only ever read
    padding are left out."""
    taps = []
    for i in range(kernel):
        first = max(0, -(-(padding - i) // stride))
        last = min(out_size - 1, (size - 1 + padding - i) // stride)
        if first <= last:
            start = first * stride - padding + i
            taps.append((i, slice(first, last + 1), slice(start, last * stride - padding + i + 1, stride)))
    return taps


class PoolBase(Module):
    """Validated pooling arguments as attributes (``kernel_size``, ``stride`` and
    ``padding`` as pairs; ``stride=None`` means the kernel size, as in torch) and the
    geometry of one call: output size and, tap by tap, which outputs read which pixels.

    The window is never materialised: each of its ``kh * kw`` taps is one strided view
    of the input, so the memory layout of the input is kept and padding costs nothing.
    """

    def __init__(self, kernel_size, stride, padding, ceil_mode):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", name, 1)
        self.padding = pair(padding, "padding", name, 0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding must be at most half the kernel size (as in torch), got "
                             f"padding={self.padding} for kernel_size={self.kernel_size}")
        self.ceil_mode = only(ceil_mode, False, "ceil_mode", name)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def _geometry(self, x):
        """``(out_size, taps)`` for input ``x``: ``taps`` lists ``((i, j), outputs, inputs)``
        with ``outputs``/``inputs`` index tuples for the last two axes of the output/input."""
        out_size = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in
                         zip(x.shape[2:], self.kernel_size, self.stride, self.padding))
        if min(out_size) < 1 or max(out_size) > LARGEST:
            raise ValueError(f"{self!r}: input of shape {tuple(x.shape)} gives an output of size {out_size}, "
                             f"not in [1, {LARGEST}]; the padded input must be at least as large as the kernel")
        rows, columns = (_axis_taps(k, s, p, n, o) for k, s, p, n, o in
                         zip(self.kernel_size, self.stride, self.padding, x.shape[2:], out_size))
        taps = [((i, j), (..., out_r, out_c), (..., in_r, in_c))
                for i, out_r, in_r in rows for j, out_c, in_c in columns]
        return out_size, taps

    @staticmethod
    def _new_output(x, out_size):
        """An uninitialised ``(N, C, H_out, W_out)`` tensor, channels-last when ``x`` is."""
        return new_nchw(x, (*x.shape[:2], *out_size), is_channels_last(x))
