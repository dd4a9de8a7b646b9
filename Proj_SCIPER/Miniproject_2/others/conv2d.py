"""2-D convolution: forward and hand-written backward."""
from torch.nn.functional import unfold

from .args import check_grad_output, check_input
from .conv_base import ConvBase
from .im2col import Window
from .layout import is_channels_last, nchw, nhwc
from .transpose_conv2d import transpose_conv_nhwc_backward, transpose_conv_nhwc_forward


def _multiplies_first(window, c_in, c_out, copies):
    """Whether to convolve as "multiply every pixel, then sum the windows" (see below).

    The usual order (im2col, then one product) materialises ``copies`` matrices of
    ``out_positions x taps x C_in`` numbers: one in forward, two in backward (the im2col
    matrix again and the gradient of it). Multiplying first materialises one matrix of
    ``in_positions x taps x C_out``, and skips the positions an upsampling phase pads
    with. These layers spend their time moving memory or multiplying it, so the order that
    materialises fewer numbers wins: multiplying first for the last layer's 3 colours in
    both passes, and in backward for the layers before. It needs stride 1: with a larger
    stride the gradient would be a zero-inserted image.
    """
    (h, w), (oh, ow) = window.in_size, window.out_size
    return window.stride == (1, 1) and h * w * c_out < copies * oh * ow * c_in


def _adjoint(window):
    """The stride-1 window whose col2im is ``window``'s convolution read backwards.

    It slides over ``window``'s output and its windows land on ``window``'s input pixels,
    with the taps in reverse order (input pixel ``q`` reaches output ``o`` through tap
    ``t`` when ``q + top = o + dilation * t``).
    """
    (kh, kw), (dh, dw) = window.kernel, window.dilation
    top, bottom, left, right = window.padding
    eh, ew = dh * (kh - 1), dw * (kw - 1)
    return Window(window.kernel, (1, 1), window.dilation, (eh - top, eh - bottom, ew - left, ew - right),
                  window.out_size)


def _taps_reversed(w2, window, c_in):
    """``(kh*kw*C_in, C_out)`` weight matrix -> ``(C_in, kh*kw*C_out)`` with the taps reversed."""
    kh, kw = window.kernel
    return w2.view(kh, kw, c_in, -1).flip(0, 1).permute(2, 0, 1, 3).reshape(c_in, -1)


def conv_nhwc_forward(window, x, w2, bias):
    """Channels-last convolution as one matrix product, in the order :func:`_multiplies_first` picks.

    ``x`` is ``(N, H, W, C)``, ``w2`` the weight as a ``(kh*kw*C, C_out)`` matrix.
    Returns the contiguous ``(N*oh*ow, C_out)`` output.
    """
    n, c, c_out = x.shape[0], x.shape[3], w2.shape[1]
    if not _multiplies_first(window, c, c_out, copies=1):
        with window.im2col(x) as cols:
            return cols @ w2 if bias is None else bias.addmm(cols, w2)
    # Multiplying first is the transposed convolution over the adjoint window.
    summed = transpose_conv_nhwc_forward(_adjoint(window), x.view(-1, c), _taps_reversed(w2, window, c),
                                         n, c_out)
    out = summed.new_empty(summed.shape).copy_(summed)
    if bias is not None:
        out.add_(bias)
    return out.view(-1, c_out)


def conv_nhwc_backward(window, x, w2, grad):
    """Gradients of :func:`conv_nhwc_forward` for an upstream ``(N*oh*ow, C_out)`` gradient.

    The im2col matrix is rebuilt rather than kept from forward: it is several times
    the input's size, and keeping every layer's until backward would multiply peak
    memory for one copy's worth of time.
    Returns ``(grad_w2, grad_bias, grad_x)`` with ``grad_x`` of shape ``(N, H, W, C)``.
    """
    n, h, w, c = x.shape
    c_out = w2.shape[1]
    if not _multiplies_first(window, c, c_out, copies=2):
        with window.im2col(x) as cols:
            grad_w2 = cols.t() @ grad
        # The input gradient is the transposed convolution of the upstream one: col2im(G Wᵀ).
        return grad_w2, grad.sum(0), transpose_conv_nhwc_forward(window, grad, w2.t(), n, c)
    grad_reversed, grad_x = transpose_conv_nhwc_backward(
        _adjoint(window), x.view(-1, c), _taps_reversed(w2, window, c), grad.view(n, *window.out_size, c_out))
    kh, kw = window.kernel
    grad_w2 = grad_reversed.view(c, kh, kw, c_out).flip(1, 2).permute(1, 2, 0, 3).reshape(-1, c_out)
    return grad_w2, grad.sum(0), grad_x.view(n, h, w, c)


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
    product and returns a channels-last output.
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

    def _weight_matrix(self):
        """The weight as a ``(kh*kw*C_in, C_out)`` matrix matching im2col's column order."""
        return self.weight.permute(2, 3, 1, 0).reshape(-1, self.out_channels)

    def forward(self, x):
        x = check_input(self, x, self.in_channels)
        window = self._window(x)
        n, o = x.shape[0], self.out_channels
        oh, ow = window.out_size
        w2 = self._weight_matrix()
        self._save(_x=x, _window_used=window, _w2=w2)
        if is_channels_last(x) and not x.is_contiguous():
            out = conv_nhwc_forward(window, nhwc(x), w2, self.bias)
            return nchw(out.view(n, oh, ow, o))
        cols = unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        weight = self.weight.reshape(1, o, -1).expand(n, -1, -1)
        if self.bias is None:
            out = weight @ cols
        else:
            # The bias starts the accumulation, as in torch's reference, so rounding matches it.
            out = self.bias.view(1, o, 1).expand(n, o, cols.shape[2]).baddbmm(weight, cols)
        return out.view(n, o, oh, ow)

    def backward(self, grad_output):
        x, window, w2 = self._saved("_x", "_window_used", "_w2")
        n, c = x.shape[0], self.in_channels
        grad_output = check_grad_output(self, grad_output, (n, self.out_channels, *window.out_size), x)
        grad = nhwc(grad_output).view(-1, self.out_channels)
        grad_w2, grad_bias, grad_x = conv_nhwc_backward(window, nhwc(x), w2, grad)
        kh, kw = self.kernel_size
        self._grads["weight"].add_(grad_w2.view(kh, kw, c, self.out_channels).permute(3, 2, 0, 1))
        if self.bias is not None:
            self._grads["bias"].add_(grad_bias)
        return nchw(grad_x)
