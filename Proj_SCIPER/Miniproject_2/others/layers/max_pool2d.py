"""2-D max pooling."""
import torch

from ..plumbing.args import check_grad_output, check_input, only, pair
from ..kernels.layout import is_channels_last, new_nchw
from .module import in_inference
from .pool_base import PoolBase


def _later_wins(first, later):
    """Where torch's scan keeps ``later`` over ``first``: strictly larger, or NaN."""
    return (later > first) | later.isnan()


class MaxPool2d(PoolBase):
    r"""The maximum of each ``kernel_size`` window, as ``torch.nn.MaxPool2d``.

    Args:
        kernel_size (int or tuple): window size.
        stride (int or tuple, optional): window step. Default: ``kernel_size``
        padding (int or tuple): implicit ``-inf`` border on each side, at most half the
            kernel size. Default: 0
        dilation, return_indices, ceil_mode: only their defaults (1, ``False``, ``False``);
            another value raises ``ValueError``.

    Backward routes each output's gradient to the pixel its maximum came from (gradients
    of overlapping windows add up). Which pixel, among ties, is torch's choice: the window
    is scanned row by row and a value replaces the maximum only if it is strictly larger
    or NaN, so the first of equal maxima wins, a NaN wins over numbers (the last NaN over
    other NaNs), and a window of ``-inf`` picks its first real pixel, never the padding.

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: :math:`(N, C, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor (H + 2p - k) / s \rfloor + 1` (same for W); channels-last
          when the input is.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        name = type(self).__name__
        self.dilation = only(pair(dilation, "dilation", name, 1), (1, 1), "dilation", name)
        self.return_indices = only(return_indices, False, "return_indices", name)

    def _tiles(self):
        """Whether windows are the 2x2 tiles of the input (the U-Net's pooling): then each
        output is a small tournament of four views, with no index arithmetic."""
        return self.kernel_size == self.stride == (2, 2) and self.padding == (0, 0)

    def forward(self, x):
        x = check_input(self, x, None)
        out_size, taps = self._geometry(x)
        if self._tiles():
            return self._forward_tiles(x)
        h, w = x.shape[2:]
        (sh, sw), (ph, pw) = self.stride, self.padding
        # Flat index (into H * W) of the top-left pixel of each window, padding included,
        # and of its first real pixel, where torch starts its scan.
        top = torch.arange(out_size[0], device=x.device).view(-1, 1) * sh - ph
        left = torch.arange(out_size[1], device=x.device) * sw - pw
        index = self._new_output(x, out_size).long()
        index.copy_((top.clamp(min=0) * w + left.clamp(min=0)).expand_as(index))
        best = self._new_output(x, out_size).fill_(float("-inf"))
        for (i, j), outputs, inputs in taps:
            tap, current = x[inputs], best[outputs]
            wins = (tap > current) | tap.isnan()
            current.copy_(tap.where(wins, current))
            chosen = index[outputs]
            chosen.copy_(chosen.where(~wins, (top[outputs[1]] + i) * w + left[outputs[2]] + j))
        self._save(_index=index, _in_shape=x.shape, _like=x.new_empty(0))
        return best

    def backward(self, grad_output):
        index, shape, like = self._saved("_index", "_in_shape", "_like")
        n, c, h, w = shape
        if isinstance(index, tuple):
            return self._backward_tiles(grad_output, *index)
        grad_output = check_grad_output(self, grad_output, index.shape, like)
        grad = grad_output.new_empty((n * c, h * w)).zero_()
        return grad.scatter_add_(1, index.reshape(n * c, -1), grad_output.reshape(n * c, -1)).view(shape)

    @staticmethod
    def _quarters(x):
        """The four ``(N, C, H // 2, W // 2)`` views of the tiles' pixels, in torch's scan
        order (a last odd row or column belongs to no window and is left out)."""
        n, c, h, w = x.shape
        tiles = x[:, :, :h - h % 2, :w - w % 2].unflatten(2, (h // 2, 2)).unflatten(4, (w // 2, 2))
        return [tiles[:, :, :, i, :, j] for i in (0, 1) for j in (0, 1)]

    def _forward_tiles(self, x):
        """Forward for 2x2 tiles. torch's scan keeps the maximum of a total order (NaN above
        numbers, a later NaN above an earlier one, an earlier number above an equal later
        one), so it can run as a tournament: each row's pair, then the two rows' winners.
        ``maximum`` gives each winner's value (NaN included; between +0 and -0 it may pick
        either, so a zero's sign can differ from torch's); the three comparisons say which
        pixel it came from: the lower row, and the right column of the winning row."""
        top_left, top_right, bottom_left, bottom_right = self._quarters(x)
        if in_inference():
            # Which pixel won is for backward only; the values are the same.
            self._save(_index=None, _in_shape=None, _like=None, _channels_last=None)
            return top_left.maximum(top_right).maximum(bottom_left.maximum(bottom_right))
        right_in_top, right_in_bottom = _later_wins(top_left, top_right), _later_wins(bottom_left, bottom_right)
        top, bottom = top_left.maximum(top_right), bottom_left.maximum(bottom_right)
        lower = _later_wins(top, bottom)
        right = right_in_top ^ (lower & (right_in_top ^ right_in_bottom))
        self._save(_index=(lower, right), _in_shape=x.shape, _like=x.new_empty(0),
                   _channels_last=is_channels_last(x))
        return top.maximum(bottom)

    def _backward_tiles(self, grad_output, lower, right):
        shape, like, channels_last = self._saved("_in_shape", "_like", "_channels_last")
        h, w = shape[2:]
        grad_output = check_grad_output(self, grad_output, lower.shape, like)
        grad = new_nchw(like, shape, channels_last)
        if h % 2:
            grad[:, :, -1].zero_()
        if w % 2:
            grad[:, :, :, -1].zero_()
        # Filling with zero, not multiplying by a 0/1 mask: 0 * inf would be NaN.
        elsewhere = (lower | right, lower | ~right, ~lower | right, ~lower | ~right)
        for quarter, skipped in zip(self._quarters(grad), elsewhere):
            quarter.copy_(grad_output).masked_fill_(skipped, 0)
        return grad
