"""Logistic sigmoid."""
from .args import check_grad_output, check_tensor
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
        check_tensor(self, x)
        self._out = x.neg().exp_().add_(1).reciprocal_()
        return self._out

    def backward(self, grad_output):
        out = self._saved("_out")
        check_grad_output(self, grad_output, out.shape)
        return grad_output * out * (1 - out)
