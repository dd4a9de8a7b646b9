"""2-D transposed convolution, the adjoint of Conv2d: a thin layer over :mod:`..kernels.conv_kernels`."""
from ..plumbing.args import pair
from .conv_base import ConvBase
from ..kernels.im2col import Window


class TransposeConv2d(ConvBase):
    r"""2-D transposed convolution, as ``torch.nn.ConvTranspose2d``.

    Args:
        in_channels (int), out_channels (int), kernel_size (int or tuple)
        stride (int or tuple, optional): Default: 1
        padding (int or tuple, optional): removed from both sides of the output. Default: 0
        output_padding (int or tuple, optional): extra rows/columns at the end; must be
            smaller than stride or dilation. Default: 0
        groups (int, optional): only 1 is supported. Default: 1
        bias (bool, optional): Default: ``True``
        dilation (int or tuple, optional): Default: 1
        padding_mode (str, optional): only ``'zeros'``. Default: ``'zeros'``

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})`,
          :math:`H_{out} = (H - 1) s - 2 p + d (k - 1) + \text{output\_padding} + 1`.

    Attributes:
        weight: :math:`(C_{in}, C_{out}, kh, kw)`, from :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`,
            :math:`k = 1 / (C_{out}\, kh\, kw)` (torch's fan-in for this layout).
        bias: :math:`(C_{out})`, same distribution.

    Forward spreads each input pixel over a window of the output (``x @ W`` then
    col2im); backward is a convolution of the upstream gradient (im2col then
    two matrix products). At stride 1, ``algorithm`` may pick the other order (see
    :class:`~.conv_base.ConvBase`).
    """

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         padding_mode)
        name = type(self).__name__
        self.output_padding = pair(output_padding, "output_padding", name, 0)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"{name}: output_padding {self.output_padding} must be smaller than "
                                 f"stride {self.stride} or dilation {self.dilation}")
        # torch takes the fan-in from dimension 1 of the weight, here the output channels.
        self._register_kernel((in_channels, out_channels, *self.kernel_size),
                              out_channels * self.kernel_size[0] * self.kernel_size[1], bias, device, dtype)

    def _window(self, x):
        """The convolution window whose adjoint this layer is: it slides over the output."""
        h, w = x.shape[2:]
        out_size = tuple(
            (i - 1) * s - 2 * p + d * (k - 1) + op + 1
            for i, s, p, d, k, op in zip((h, w), self.stride, self.padding, self.dilation,
                                         self.kernel_size, self.output_padding))
        if min(out_size) < 1:
            raise ValueError(f"{self!r}: input of shape {tuple(x.shape)} gives an empty output {out_size}")
        (ph, pw), (oph, opw) = self.padding, self.output_padding
        # output_padding rows get no input (only the bias): taking them out of the bottom
        # padding keeps the window count equal to the input size even when
        # output_padding >= stride (allowed when dilation > stride).
        return Window(self.kernel_size, self.stride, self.dilation, (ph, ph - oph, pw, pw - opw), out_size)
