"""Logistic sigmoid."""
from .args import check_tensor
from .module import Module


class Sigmoid(Module):
    r"""``1 / (1 + exp(-x))`` elementwise, as ``torch.nn.Sigmoid``.

    Computed from ``exp(-|x|)``, which never overflows, so inputs like +-1000
    give exactly 1 and 0 (not NaN) in float32 and float64; the gradient
    ``s (1 - s)`` is formed from the output and is 0, not NaN, when saturated.

    Shape:
        - Input: any shape. Output: same shape (and memory layout) as the input.
    """

    def forward(self, x):
        check_tensor(self, x)
        decay = (-x.abs()).exp()
        # For x < 0 the ratio exp(x) / (1 + exp(x)) avoids exp(-x) overflowing.
        numerator = decay.where(x < 0, 1.0)
        self._out = numerator.div_(decay.add_(1.0))
        return self._out

    def backward(self, grad_output):
        out = self._saved("_out")
        return grad_output * out * (1 - out)
