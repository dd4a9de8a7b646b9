"""Channels-last im2col / col2im: the two data movements behind every convolution.

A :class:`Window` describes a 2-D sliding window (kernel, stride, dilation and
per-side padding, negative padding meaning a crop) over an ``(N, H, W, C)``
tensor. ``im2col`` lays the windows out as rows of a ``(N*oh*ow, kh*kw*C)``
matrix, columns ordered ``(kh, kw, C)``; ``col2im`` is its adjoint and sums
each row back onto the pixels it was read from. Both are built on one
``as_strided`` view of a padded buffer, so im2col is a single copy, into
scratch memory lent for a ``with`` block (see :mod:`.scratch`).
"""
import contextlib

from .scratch import scratch


class Window:
    def __init__(self, kernel, stride, dilation, padding, in_size):
        """``padding`` is ``(top, bottom, left, right)``; ``in_size`` is ``(H, W)``."""
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.padding, self.in_size = padding, in_size
        top, bottom, left, right = padding
        self.padded = (in_size[0] + top + bottom, in_size[1] + left + right)
        self.out_size = tuple(
            (p - d * (k - 1) - 1) // s + 1 for p, k, s, d in zip(self.padded, kernel, stride, dilation)
        )

    def adjoint(self):
        """The stride-1 window whose col2im is this stride-1 window's im2col read backwards.

        It slides over this window's output and its windows land on this window's input
        pixels, with the taps in reverse order (input pixel ``q`` reaches output ``o``
        through tap ``t`` when ``q + top = o + dilation * t``). Its own adjoint is this window.
        """
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        top, bottom, left, right = self.padding
        eh, ew = dh * (kh - 1), dw * (kw - 1)
        return Window(self.kernel, (1, 1), self.dilation, (eh - top, eh - bottom, ew - left, ew - right),
                      self.out_size)

    def _view(self, buffer):
        """The ``(N, oh, ow, kh, kw, C)`` window view of a padded ``(N, Hp, Wp, C)`` buffer."""
        n, _, _, c = buffer.shape
        s_n, s_h, s_w, s_c = buffer.stride()
        (oh, ow), (kh, kw) = self.out_size, self.kernel
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return buffer.as_strided(
            (n, oh, ow, kh, kw, c), (s_n, sh * s_h, sw * s_w, dh * s_h, dw * s_w, s_c)
        )

    def _overlap(self):
        """``(in_input, in_buffer)``: slices of the input and of the padded buffer holding the
        same pixels (negative padding crops the input instead of growing the buffer)."""
        top, bottom, left, right = self.padding
        (h, w), (hp, wp) = self.in_size, self.padded
        in_input = (slice(max(-top, 0), h - max(-bottom, 0)), slice(max(-left, 0), w - max(-right, 0)))
        in_buffer = (slice(max(top, 0), hp - max(bottom, 0)), slice(max(left, 0), wp - max(right, 0)))
        return in_input, in_buffer

    def _pad(self, x):
        if not any(self.padding):
            return x
        in_input, in_buffer = self._overlap()
        out = x.new_empty((x.shape[0], *self.padded, x.shape[3]))
        if max(self.padding) > 0:
            out.zero_()
        out[:, in_buffer[0], in_buffer[1], :] = x[:, in_input[0], in_input[1], :]
        return out

    @contextlib.contextmanager
    def im2col(self, x):
        """``(N, H, W, C)`` -> ``(N*oh*ow, kh*kw*C)`` rows of windowed pixels, in scratch
        memory lent for the ``with`` block."""
        view = self._view(self._pad(x))
        n, oh, ow, kh, kw, c = view.shape
        with scratch(view.shape, x) as cols:
            yield cols.copy_(view).view(n * oh * ow, kh * kw * c)

    def covers_exactly(self):
        """Windows tile the padded input with no overlap and no gap (e.g. 2x2 kernel, stride 2)."""
        return all(
            k == s and d == 1 and p == o * s
            for k, s, d, p, o in zip(self.kernel, self.stride, self.dilation, self.padded, self.out_size)
        )

    def col2im(self, cols, n, c):
        """Adjoint of :meth:`im2col`: ``(N*oh*ow, kh*kw*C)`` -> ``(N, H, W, C)``, overlaps summed."""
        (oh, ow), (kh, kw) = self.out_size, self.kernel
        cols = cols.view(n, oh, ow, kh, kw, c)
        buffer = cols.new_empty((n, *self.padded, c))
        if self.covers_exactly():
            self._view(buffer).copy_(cols)
        else:
            buffer.zero_()
            (sh, sw), (dh, dw) = self.stride, self.dilation
            for i in range(kh):
                for j in range(kw):
                    rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
                    columns = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
                    buffer[:, rows, columns, :].add_(cols[:, :, :, i, j, :])
        return self._unpad(buffer)

    def _unpad(self, buffer):
        in_input, in_buffer = self._overlap()
        inner = buffer[:, in_buffer[0], in_buffer[1], :]
        if min(self.padding) >= 0:
            return inner
        # Cropped input pixels were never read: their gradient is zero.
        out = buffer.new_empty((buffer.shape[0], *self.in_size, buffer.shape[3])).zero_()
        out[:, in_input[0], in_input[1], :] = inner
        return out
