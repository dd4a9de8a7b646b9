"""Skip connections: the two ways a network that is not a chain joins a branch back in.

A U-Net is a chain whose middle is wrapped: ``SkipConcat(inner)`` hands its input on
beside ``inner``'s output, and ``Residual(inner)`` adds it. Nesting the two builds any
encoder-decoder with skips while every container keeps one input and one output, so
they sit inside :class:`~.sequential.Sequential` like any layer.
"""
import torch

from ..plumbing.args import check_grad_output, check_tensor
from ..kernels.layout import is_channels_last, nchw, nhwc
from .module import Module


class _Wrapper(Module):
    """A container around one module, named ``inner`` in state_dict keys."""

    def __init__(self, inner):
        super().__init__()
        if not isinstance(inner, Module):
            raise TypeError(f"{type(self).__name__}: inner is a {type(inner).__name__}, not a Module")
        self.inner = inner

    def children(self):
        return [("inner", self.inner)]


class Residual(_Wrapper):
    r"""``x + inner(x)``: the branch learns a correction of its input.

    The gradient reaches the input twice, straight and through the branch, and the two add.

    Shape:
        - Input: any shape ``inner`` takes. Output: the same shape (``inner`` must keep it).
    """

    def forward(self, x):
        x = check_tensor(self, x)
        y = self.inner.forward(x)
        if y.shape != x.shape:
            raise ValueError(f"{type(self).__name__}: inner maps shape {tuple(x.shape)} to {tuple(y.shape)}; "
                             f"a residual branch must keep the shape")
        self._save(_like=x.new_empty(0), _shape=x.shape)
        return x + y

    def backward(self, grad_output):
        like, shape = self._saved("_like", "_shape")
        grad_output = check_grad_output(self, grad_output, shape, like)
        return grad_output + self.inner.backward(grad_output)


class SkipConcat(_Wrapper):
    r"""``cat([x, inner(x)], dim=1)``: the branch's channels follow the input's.

    ``inner`` must keep the height and width (a U-Net level pools, processes and upsamples
    back). Channels-last inputs give a channels-last output, joined by one copy.

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: :math:`(N, C + C_{inner}, H, W)`.
    """

    def forward(self, x):
        x = check_tensor(self, x)
        if x.dim() != 4:
            raise ValueError(f"{type(self).__name__}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
        y = self.inner.forward(x)
        if y.dim() != 4 or y.shape[0] != x.shape[0] or y.shape[2:] != x.shape[2:]:
            raise ValueError(f"{type(self).__name__}: inner maps shape {tuple(x.shape)} to {tuple(y.shape)}; "
                             f"it must keep the batch, height and width")
        self._save(_like=x.new_empty(0), _shape=x.shape, _inner_channels=y.shape[1])
        if is_channels_last(x) or is_channels_last(y):
            return nchw(torch.cat([nhwc(x), nhwc(y)], 3))
        return torch.cat([x, y], 1)

    def backward(self, grad_output):
        like, shape, inner_channels = self._saved("_like", "_shape", "_inner_channels")
        n, c, h, w = shape
        grad_output = check_grad_output(self, grad_output, (n, c + inner_channels, h, w), like)
        return grad_output[:, :c] + self.inner.backward(grad_output[:, c:])
