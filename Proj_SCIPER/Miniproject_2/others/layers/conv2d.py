"""2-D convolution: a thin layer over :mod:`..kernels.conv_kernels`."""
from .conv_base import ConvBase
from ..kernels.im2col import Window


class Conv2d(ConvBase):
    r"""2-D convolution over an input of shape :math:`(N, C_{in}, H, W)`, as ``torch.nn.Conv2d``.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels produced.
        kernel_size (int or tuple): size of the kernel.
        stride (int or tuple, optional): stride of the window. Default: 1
        padding (int, tuple or 'valid', optional): zero padding added on both sides. Default: 0
        dilation (int or tuple, optional): spacing between kernel taps. Default: 1
        groups (int, optional): only 1 is supported. Default: 1
        bias (bool, optional): adds a learnable bias. Default: ``True``
        padding_mode (str, optional): only ``'zeros'`` is supported. Default: ``'zeros'``

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`
        - Output: :math:`(N, C_{out}, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor (H + 2p - d (k - 1) - 1) / s \rfloor + 1`, likewise for W.

    Attributes:
        weight: :math:`(C_{out}, C_{in}, kh, kw)`, initialised from
            :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with :math:`k = 1 / (C_{in}\, kh\, kw)`.
        bias: :math:`(C_{out})`, same distribution.

    A contiguous NCHW input is convolved in the accumulation order of torch's
    im2col reference (``bias + W @ unfold(x)``), so results are bit-identical
    to ``F.conv2d`` wherever torch itself takes that path. A channels-last input
    (what the layers of this framework pass each other) takes one large matrix
    product and returns a channels-last output. ``algorithm`` picks the product's
    order (see :class:`~.conv_base.ConvBase`).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         padding_mode)
        self._register_kernel((out_channels, in_channels, *self.kernel_size),
                              in_channels * self.kernel_size[0] * self.kernel_size[1], bias, device, dtype)

    def _window(self, x):
        (ph, pw) = self.padding
        window = Window(self.kernel_size, self.stride, self.dilation, (ph, ph, pw, pw), tuple(x.shape[2:]))
        if min(window.out_size) < 1:
            raise ValueError(
                f"{self!r}: the dilated kernel is larger than the padded input "
                f"{window.padded} (input shape {tuple(x.shape)})")
        return window
