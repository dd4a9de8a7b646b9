"""2-D max pooling."""
import torch

from .args import check_grad_output, check_input, only, pair
from .pool_base import PoolBase


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

    def forward(self, x):
        x = check_input(self, x, None)
        h, w = x.shape[2:]
        out_size, taps = self._geometry(x)
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
        grad_output = check_grad_output(self, grad_output, index.shape, like)
        grad = grad_output.new_empty((n * c, h * w)).zero_()
        return grad.scatter_add_(1, index.reshape(n * c, -1), grad_output.reshape(n * c, -1)).view(shape)
