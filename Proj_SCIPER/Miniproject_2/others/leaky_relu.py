"""Leaky rectified linear unit."""
import math

from .args import check_grad_output, check_number, check_tensor, only
from .module import Module


class LeakyReLU(Module):
    r"""``x if x > 0 else negative_slope * x`` elementwise, as ``torch.nn.LeakyReLU``.

    Args:
        negative_slope (float): the slope for ``x <= 0``, any finite number. Default: 0.01
        inplace (bool): only ``False`` (``True`` raises ``ValueError``). Default: ``False``

    Like torch, the gradient at exactly 0 is ``negative_slope`` (0 counts as negative),
    and both forward and backward select rather than blend, so the numbers are torch's
    bit for bit, NaN included.

    Shape:
        - Input: any shape. Output: same shape (and memory layout) as the input.
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = check_number(negative_slope, "negative_slope", "LeakyReLU", low=-math.inf)
        self.inplace = only(inplace, False, "inplace", "LeakyReLU")

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        x = check_tensor(self, x)
        self._save(_x=x)
        return x.where(x > 0, x * self.negative_slope)

    def backward(self, grad_output):
        x = self._saved("_x")
        grad_output = check_grad_output(self, grad_output, x.shape, x)
        return grad_output.where(x > 0, grad_output * self.negative_slope)
