"""Mean squared error loss."""
from ..plumbing.args import check_grad_output, check_tensor, shown
from .module import Module


class MSE(Module):
    r"""``mean((input - target)^2)``, as ``torch.nn.MSELoss``.

    Args:
        reduction (str, optional): ``'mean'`` | ``'sum'`` | ``'none'``. Default: ``'mean'``

    ``forward(input, target)`` returns the loss; ``backward(grad_output=1.0)``
    returns the gradient with respect to ``input`` (the target is a constant).

    Shape:
        - Input and target: the same shape. Output: scalar, or the input's shape for ``'none'``.
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"MSE: reduction must be 'mean', 'sum' or 'none', got {shown(reduction)}")
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"

    def forward(self, input, target):
        input, target = check_tensor(self, input), check_tensor(self, target)
        if input.shape != target.shape:
            raise ValueError(f"{self!r}: input shape {tuple(input.shape)} != target shape {tuple(target.shape)}")
        diff = input - target
        self._save(_diff=diff)
        squared = diff * diff
        if self.reduction == "none":
            return squared
        total = squared.sum()
        return total / squared.numel() if self.reduction == "mean" else total

    def backward(self, grad_output=1.0):
        diff = self._saved("_diff")
        if hasattr(grad_output, "shape"):
            grad_output = check_grad_output(self, grad_output, diff.shape if self.reduction == "none" else (), diff)
        scale = 2.0 / diff.numel() if self.reduction == "mean" else 2.0
        return diff * (grad_output * scale)
