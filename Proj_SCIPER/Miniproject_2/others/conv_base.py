"""What the three convolution layers share: torch's arguments, initialisation and repr."""
import math

import torch

from .args import only, pair, positive_int
from .module import Module


class ConvBase(Module):
    """Validated convolution arguments as attributes (``kernel_size`` etc. as pairs), like torch's."""

    #: Shown in the repr right after ``kernel_size``.
    _repr_head = ("stride",)

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
