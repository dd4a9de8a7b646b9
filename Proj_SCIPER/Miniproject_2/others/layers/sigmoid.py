"""Logistic sigmoid."""
from ..plumbing.args import check_grad_output, check_tensor
from .module import Module


class Sigmoid(Module):
    r"""``1 / (1 + exp(-x))`` elementwise, as ``torch.nn.Sigmoid``.

    For very negative x, ``exp(-x)`` overflows to inf and the result is exactly 0
    (``1 / inf``), never NaN; the gradient ``s (1 - s)`` is formed from the output,
    so it is 0, not ``inf / inf``, when saturated (inputs like +-1000, float32 or float64).

    Shape:
        - Input: any shape. Output: same shape (and memory layout) as the input.
    """

    def forward(self, x):
        out = check_tensor(self, x).neg().exp_().add_(1).reciprocal_()
        self._save(_out=out)
        return out

    def backward(self, grad_output):
        out = self._saved("_out")
        grad_output = check_grad_output(self, grad_output, out.shape, out)
        return grad_output * out * (1 - out)
