"""What the three convolution layers share: torch's arguments, initialisation, repr, and
forward and backward as one call each to :mod:`..kernels.conv_kernels`."""
import math

import torch

from ..plumbing.args import check_grad_output, check_input, only, pair, positive_int
from ..kernels.conv_kernels import convolution, convolution_backward
from .module import Module


class ConvBase(Module):
    """Validated convolution arguments as attributes (``kernel_size`` etc. as pairs), like torch's.

    ``algorithm`` picks the order of the convolution's matrix product: ``"auto"`` (the
    default), ``"im2col"``, ``"multiply_first"`` or a ``(forward, backward)`` pair of the
    last two (see :mod:`..kernels.conv_kernels`); every order gives the same numbers up to rounding.
    ``compute_dtype`` is the dtype of the matrix products: ``None`` (the default) computes in
    the input's, ``torch.bfloat16`` is mixed precision (see :mod:`..kernels.precision`, whose
    ``set_precision`` sets it on a whole network).
    """

    #: Shown in the repr right after ``kernel_size``.
    _repr_head = ("stride",)
    #: Whether the layer is a transposed convolution (its window slides over its output).
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                 padding_mode):
        super().__init__()
        name = type(self).__name__
        self.in_channels = positive_int(in_channels, "in_channels", name)
        self.out_channels = positive_int(out_channels, "out_channels", name)
        self.kernel_size = pair(kernel_size, "kernel_size", name, 1)
        self.stride = pair(stride, "stride", name, 1)
        self.padding = (0, 0) if padding == "valid" else pair(padding, "padding", name, 0)
        self.dilation = pair(dilation, "dilation", name, 1)
        self.groups = only(groups, 1, "groups", name)
        self.padding_mode = only(padding_mode, "zeros", "padding_mode", name)
        self.algorithm = "auto"
        self.compute_dtype = None

    def _register_kernel(self, shape, fan_in, bias, device, dtype):
        """Register ``weight`` of ``shape`` and, if ``bias``, a ``bias`` per output channel.

        Both are drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch's default for
        convolutions (its kaiming_uniform with a=sqrt(5) works out to that bound).
        """
        bound = 1 / math.sqrt(fan_in)
        self._register_parameter(
            "weight", torch.empty(shape, device=device, dtype=dtype).uniform_(-bound, bound))
        if bias:
            self._register_parameter(
                "bias", torch.empty(self.out_channels, device=device, dtype=dtype).uniform_(-bound, bound))
        else:
            self.bias = None

    def _window(self, x):
        """The :class:`~..kernels.im2col.Window` of the convolution for input ``x``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _window")

    def forward(self, x):
        return self.forward_then(x, None)

    def forward_then(self, x, then):
        """``forward(x)`` with ``then`` (a function or ``None``) applied in place to the output
        as it is made: an activation that follows the layer, run on each block of the output
        while it is in cache (:mod:`..kernels.conv_kernels`; ``Sequential`` arranges it)."""
        x = check_input(self, x, self.in_channels)
        out, cache = convolution(x, self.weight, self.bias, self._window(x), self._transposed, self.algorithm,
                                 self.compute_dtype, then)
        self._save(_x=x, _cache=cache)
        return out

    def backward(self, grad_output):
        x, cache = self._saved("_x", "_cache")
        grid = cache.window.in_size if self._transposed else cache.window.out_size
        grad_output = check_grad_output(self, grad_output, (x.shape[0], self.out_channels, *grid), x)
        grad_input, grad_weight, grad_bias = convolution_backward(grad_output, cache)
        self._accumulate(grad_weight, grad_bias)
        return grad_input

    def _accumulate(self, grad_weight, grad_bias):
        """Add one backward's gradients to the parameters' (``grad_bias`` unused without a bias)."""
        self._parameters["weight"].grad.add_(grad_weight)
        if self.bias is not None:
            self._parameters["bias"].grad.add_(grad_bias)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        s += "".join(f", {name}={getattr(self, name)}" for name in self._repr_head)
        # torch's order and defaults, so the reprs read like torch's.
        for name, default in (("padding", (0, 0)), ("dilation", (1, 1)), ("output_padding", (0, 0))):
            if getattr(self, name, default) != default:
                s += f", {name}={getattr(self, name)}"
        if self.bias is None:
            s += ", bias=False"
        return s
