"""Channels-last im2col / col2im: the two data movements behind every convolution.

A :class:`Window` describes a 2-D sliding window (kernel, stride, dilation and
per-side padding, negative padding meaning a crop) over an ``(N, H, W, C)``
tensor. ``im2col`` lays the windows out as rows of a ``(N*oh*ow, kh*kw*C)``
matrix, columns ordered ``(kh, kw, C)``; ``col2im`` is its adjoint and sums
each row back onto the pixels it was read from. Both are built on one
``as_strided`` view of a padded buffer, so im2col is a single copy. It is made in
blocks small enough to stay in the CPU's cache while the product that consumes
each one reads it, into scratch memory (see :mod:`.scratch`).
"""
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

    def _pad(self, x, memory):
        """``x`` zero-padded (or cropped) into ``memory``; ``x`` itself if there is no padding."""
        if not any(self.padding):
            return x
        in_input, (rows, columns) = self._overlap()
        out = memory.view(x.shape[0], *self.padded, x.shape[3])
        # Reused memory: only the border needs zeros, x overwrites the rest.
        out[:, :rows.start].zero_()
        out[:, rows.stop:].zero_()
        out[:, rows, :columns.start].zero_()
        out[:, rows, columns.stop:].zero_()
        out[:, rows, columns] = x[:, in_input[0], in_input[1]]
        return out

    def im2col_blocks(self, x, numbers=None, dtype=None):
        """The ``(N*oh*ow, kh*kw*C)`` im2col matrix of ``(N, H, W, C)`` ``x``, in blocks of
        about ``numbers`` numbers (one block if ``None``): yields ``(positions, cols)``,
        ``cols`` the rows of the output positions in the slice ``positions``, in ``dtype``
        (``x``'s if ``None``: the copy into the blocks converts).

        A block is whole images, or whole output rows of one image, so its positions are
        consecutive. The padded input and every block live in the same scratch memory:
        use ``cols`` before asking for the next block, and keep no view of it.
        """
        n, c = x.shape[0], x.shape[3]
        (oh, ow), (kh, kw) = self.out_size, self.kernel
        per_row = ow * kh * kw * c
        rows = None if numbers is None else max(1, numbers // max(per_row, 1))
        if rows is None or rows >= oh:
            step = max(1, min(n, n if rows is None else rows // max(oh, 1)))
            blocks = [(slice(i, i + step), slice(None)) for i in range(0, n, step)]
            largest = min(step, n) * oh * per_row
        else:
            # Split each image into equal parts, not full blocks and a small remainder.
            step = -(-oh // -(-oh // rows))
            blocks = [(slice(i, i + 1), slice(r, r + step)) for i in range(n) for r in range(0, oh, step)]
            largest = step * per_row
        padded = n * self.padded[0] * self.padded[1] * c if any(self.padding) else 0
        # The blocks start on a 64-byte boundary (32 bfloat16 numbers) after the padded input.
        first = -(-padded // 32) * 32
        start = 0
        with scratch((first + largest,), x, dtype) as buffer:
            view = self._view(self._pad(x, buffer[:padded]))
            for images, out_rows in blocks:
                block = view[images, out_rows]
                cols = buffer[first:first + block.numel()].view(block.shape).copy_(block).view(-1, kh * kw * c)
                yield slice(start, start + cols.shape[0]), cols
                start += cols.shape[0]

    def covers_exactly(self):
        """Windows tile the padded input with no overlap and no gap (e.g. 2x2 kernel, stride 2)."""
        return all(
            k == s and d == 1 and p == o * s
            for k, s, d, p, o in zip(self.kernel, self.stride, self.dilation, self.padded, self.out_size)
        )

    def col2im(self, cols, n, c, dtype=None):
        """Adjoint of :meth:`im2col`: ``(N*oh*ow, kh*kw*C)`` -> ``(N, H, W, C)``, overlaps summed
        in ``dtype`` (``cols``' if ``None``)."""
        (oh, ow), (kh, kw) = self.out_size, self.kernel
        cols = cols.view(n, oh, ow, kh, kw, c)
        buffer = cols.new_empty((n, *self.padded, c), dtype=dtype)
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
