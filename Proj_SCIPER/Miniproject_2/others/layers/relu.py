"""Rectified linear unit."""
from ..plumbing.args import check_grad_output, check_tensor
from .module import Module


class ReLU(Module):
    r"""``max(0, x)`` elementwise, as ``torch.nn.ReLU``; the gradient at exactly 0 is 0, like torch's.

    Shape:
        - Input: any shape. Output: same shape (and memory layout) as the input.
    """

    def forward(self, x):
        out = check_tensor(self, x).clamp(min=0)
        self._save(_out=out)
        return out

    # -- run in place on the output of the layer before (see Sequential) --------------------
    def fusable(self):
        """Whether :meth:`activate_` can stand in for forward (always: backward needs only the output)."""
        return True

    def activate_(self, x):
        """Forward's ``max(0, x)`` in place on ``x``, which nothing else holds."""
        x.clamp_(min=0)

    def adopt(self, out):
        """Keep for backward the output ``out`` that :meth:`activate_` made, as forward would."""
        self._save(_out=out)

    def backward(self, grad_output):
        # sign(max(0, x)) is the 0/1 derivative; a float multiply is several times
        # faster than selecting with a boolean mask.
        out = self._saved("_out")
        grad_output = check_grad_output(self, grad_output, out.shape, out)
        return grad_output * out.sign()
