"""Leaky rectified linear unit."""
import math

from ..plumbing.args import check_grad_output, check_number, check_tensor, only
from .module import Module


class LeakyReLU(Module):
    r"""``x if x > 0 else negative_slope * x`` elementwise, as ``torch.nn.LeakyReLU``.

    Args:
        negative_slope (float): the slope for ``x <= 0``, any finite number. Default: 0.01
        inplace (bool): only ``False`` (``True`` raises ``ValueError``). Default: ``False``

    Like torch, the gradient at exactly 0 is ``negative_slope`` (0 counts as negative),
    and both forward and backward pick ``x`` or ``negative_slope * x`` (``g`` or
    ``negative_slope * g``) rather than blend, so the numbers are torch's bit for bit,
    NaN included.

    Shape:
        - Input: any shape. Output: same shape (and memory layout) as the input.
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = check_number(negative_slope, "negative_slope", "LeakyReLU", low=-math.inf)
        self.inplace = only(inplace, False, "inplace", "LeakyReLU")

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def _common(self):
        """Whether the slope is in (0, 1], every activation's: then ``max(x, slope * x)`` is
        the output (slope 0 is left out: ``0 * inf`` is NaN), and it is positive exactly
        where ``x`` is. Selecting with ``where`` is
        several times slower than these two passes, and keeping the output rather than the
        input for backward holds no tensor the next layer does not hold already."""
        return 0 < self.negative_slope <= 1

    def forward(self, x):
        x = check_tensor(self, x)
        if self._common():
            # NaN propagates through the product and the clamp; ties (x = +-0) have one value.
            y = x.mul(self.negative_slope).clamp_(min=x)
            self._save(_sign_of_x=y)
            return y
        self._save(_sign_of_x=x)
        return x.where(x > 0, x * self.negative_slope)

    # -- run in place on the output of the layer before (see Sequential) --------------------
    def fusable(self):
        """Whether :meth:`activate_` can stand in for forward: with the common slopes, whose
        backward needs only the output."""
        return self._common()

    def activate_(self, x):
        """Forward's ``max(x, slope * x)`` in place on ``x``, which nothing else holds."""
        x.clamp_(min=x.mul(self.negative_slope))

    def adopt(self, y):
        """Keep for backward the output ``y`` that :meth:`activate_` made, as forward would."""
        self._save(_sign_of_x=y)

    def backward(self, grad_output):
        positive = self._saved("_sign_of_x")
        grad_output = check_grad_output(self, grad_output, positive.shape, positive)
        if self._common():
            # sign(y) is 1, -1 or 0 (0 for +-0 and NaN), so the factor is 1 where y > 0 and the
            # slope elsewhere, as torch's: the product is grad_output or torch's slope * grad_output.
            # Two passes for the factor, where a comparison and a cast take three.
            return positive.sign().clamp_(min=self.negative_slope).mul_(grad_output)
        return grad_output.where(positive > 0, grad_output * self.negative_slope)
