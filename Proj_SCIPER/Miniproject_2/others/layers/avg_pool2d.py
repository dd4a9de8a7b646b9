"""2-D average pooling."""
import torch

from ..plumbing.args import check_grad_output, check_input, positive_int
from .pool_base import PoolBase


class AvgPool2d(PoolBase):
    r"""The mean of each ``kernel_size`` window, as ``torch.nn.AvgPool2d``.

    Args:
        kernel_size (int or tuple): window size.
        stride (int or tuple, optional): window step. Default: ``kernel_size``
        padding (int or tuple): implicit zero border on each side, at most half the kernel
            size. Default: 0
        ceil_mode (bool): only ``False``; ``True`` raises ``ValueError``. Default: ``False``
        count_include_pad (bool): divide by the whole window (``True``) or by the number
            of its real pixels (``False``). Default: ``True``
        divisor_override (int, optional): a positive divisor to use instead. Default: ``None``

    Each output is the sum of its window, added tap by tap in torch's order, divided once;
    backward spreads each output's gradient, divided the same way, over its window
    (gradients of overlapping windows add up).

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: :math:`(N, C, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor (H + 2p - k) / s \rfloor + 1` (same for W); channels-last
          when the input is.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        name = type(self).__name__
        if not isinstance(count_include_pad, bool):
            raise ValueError(f"{name}: count_include_pad must be True or False, got {count_include_pad!r}")
        self.count_include_pad = count_include_pad
        self.divisor_override = (None if divisor_override is None
                                 else positive_int(divisor_override, "divisor_override", name))

    def extra_repr(self):
        s = super().extra_repr()
        if not self.count_include_pad:
            s += ", count_include_pad=False"
        if self.divisor_override is not None:
            s += f", divisor_override={self.divisor_override}"
        return s

    def _divisor_for(self, x, out_size):
        """A number, or an ``(H_out, W_out)`` tensor of real-pixel counts."""
        if self.divisor_override is not None:
            return self.divisor_override
        if self.count_include_pad or self.padding == (0, 0):
            return self.kernel_size[0] * self.kernel_size[1]
        counts = []
        for n, k, s, p, size in zip(x.shape[2:], self.kernel_size, self.stride, self.padding, out_size):
            start = torch.arange(size, device=x.device) * s - p
            counts.append((start + k).clamp(max=n) - start.clamp(min=0))
        return (counts[0].view(-1, 1) * counts[1]).to(x.dtype)

    def forward(self, x):
        x = check_input(self, x, None)
        out_size, taps = self._geometry(x)
        total = self._new_output(x, out_size).zero_()
        for _, outputs, inputs in taps:
            total[outputs] += x[inputs]
        divisor = self._divisor_for(x, out_size)
        self._save(_in_shape=x.shape, _out_size=out_size, _like=x.new_empty(0), _taps=taps, _divisor=divisor)
        return total.div_(divisor)

    def backward(self, grad_output):
        shape, out_size, like, taps, divisor = self._saved("_in_shape", "_out_size", "_like", "_taps", "_divisor")
        grad_output = check_grad_output(self, grad_output, (*shape[:2], *out_size), like)
        share = grad_output / divisor
        grad = grad_output.new_empty(shape).zero_()
        for _, outputs, inputs in taps:
            grad[inputs] += share[outputs]
        return grad
