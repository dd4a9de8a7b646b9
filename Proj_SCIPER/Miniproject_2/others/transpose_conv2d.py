"""2-D transposed convolution: the adjoint of Conv2d, with its own backward."""

from .args import check_grad_output, check_input, pair
from .conv_base import ConvBase
from .im2col import Window
from .layout import nchw, nhwc
from .scratch import scratch


def transpose_conv_nhwc_forward(window, x2, w2, n, c_out):
    """Each pixel times every tap, then col2im sums the windows: a transposed convolution.

    ``x2`` is ``(N*H*W, C_in)``, one channels-last pixel per window position of
    ``window``; ``w2`` is ``(C_in, kh*kw*C_out)``. Returns ``(N, oh, ow, C_out)`` on
    ``window``'s input grid (possibly a view of a fresh buffer, never of scratch memory).
    """
    with scratch((x2.shape[0], w2.shape[1]), x2) as product:
        # beta=0: the scratch's old contents are ignored, NaN included.
        product.addmm_(x2, w2, beta=0)
        return window.col2im(product, n, c_out)


def transpose_conv_nhwc_backward(window, x2, w2, grad):
    """Gradients of :func:`transpose_conv_nhwc_forward` for an ``(N, oh, ow, C_out)`` upstream
    gradient: im2col of it, then two products. Returns ``(grad_w2, grad_x2)``."""
    with window.im2col(grad) as cols:
        return x2.t() @ cols, cols @ w2.t()


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
    two matrix products).
    """

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

    def forward(self, x):
        x = check_input(self, x, self.in_channels)
        window = self._window(x)
        n, _, h, w = x.shape
        x2 = nhwc(x).view(n * h * w, self.in_channels)
        w2 = self.weight.permute(0, 2, 3, 1).reshape(self.in_channels, -1)
        self._save(_x2=x2, _window_used=window, _w2=w2, _batch=n)
        out = transpose_conv_nhwc_forward(window, x2, w2, n, self.out_channels)
        if self.bias is not None:
            out = out + self.bias
        return nchw(out)

    def backward(self, grad_output):
        x2, window, w2 = self._saved("_x2", "_window_used", "_w2")
        n = self._batch
        grad_output = check_grad_output(self, grad_output, (n, self.out_channels, *window.in_size), x2)
        grad = nhwc(grad_output)
        grad_w2, grad_x2 = transpose_conv_nhwc_backward(window, x2, w2, grad)
        kh, kw = self.kernel_size
        self._grads["weight"].add_(
            grad_w2.view(self.in_channels, kh, kw, self.out_channels).permute(0, 3, 1, 2))
        if self.bias is not None:
            self._grads["bias"].add_(grad.sum((0, 1, 2)))
        h, w = window.out_size
        return nchw(grad_x2.view(n, h, w, self.in_channels))
