"""Rectified linear unit."""
from .args import check_tensor
from .module import Module


class ReLU(Module):
    r"""``max(0, x)`` elementwise, as ``torch.nn.ReLU``; the gradient at exactly 0 is 0, like torch's.

    Shape:
        - Input: any shape. Output: same shape (and memory layout) as the input.
    """

    def forward(self, x):
        check_tensor(self, x)
        self._positive = x > 0
        return x.clamp(min=0)

    def backward(self, grad_output):
        return grad_output.where(self._saved("_positive"), 0.0)
