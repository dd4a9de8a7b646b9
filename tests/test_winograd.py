"""The Winograd F(2x2, 3x3) prototype against torch.autograd (through the shared helper).

Property-based over batch, channels, odd and even sizes (including 1 pixel, where every
tile is mostly border), bias and the memory layout of the input and of the upstream
gradient; then gradcheck, and float32 agreement at the U-Net's width.
"""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

import helpers
from helpers import LAYOUTS, check_against_autograd, gradcheck_module
from Miniproject_2.others import Conv2d
from Miniproject_2.others.layout import nchw, nhwc
from Miniproject_2.others.winograd import conv3x3_backward, conv3x3_forward

pytestmark = pytest.mark.usefixtures("one_thread")


class WinogradConv2d(Conv2d):
    """Conv2d(c_in, c_out, 3, padding=1) computed by the prototype: what wiring it in means."""

    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(in_channels, out_channels, 3, padding=1, bias=bias)

    def forward(self, x):
        x = nhwc(x.detach())
        self._save(_x=x)
        return nchw(conv3x3_forward(x, self.weight, self.bias))

    def backward(self, grad_output):
        x = self._saved("_x")
        grad_x, grad_weight, grad_bias = conv3x3_backward(x, self.weight, nhwc(grad_output))
        self._grads["weight"].add_(grad_weight)
        if self.bias is not None:
            self._grads["bias"].add_(grad_bias)
        return nchw(grad_x)


# Its torch.nn twin is Conv2d's: F.conv2d with the module's stride (1) and padding (1).
helpers._FUNCTIONAL[WinogradConv2d] = helpers._FUNCTIONAL[Conv2d]


@given(batch=st.integers(1, 3), c_in=st.integers(1, 5), c_out=st.integers(1, 5), h=st.integers(1, 9),
       w=st.integers(1, 9), bias=st.booleans(), layout=st.sampled_from(LAYOUTS),
       grad_layout=st.sampled_from(LAYOUTS), seed=st.integers(0, 2**31 - 1))
def test_winograd_matches_autograd(batch, c_in, c_out, h, w, bias, layout, grad_layout, seed):
    torch.manual_seed(seed)
    check_against_autograd(WinogradConv2d(c_in, c_out, bias), torch.randn(batch, c_in, h, w), layout, grad_layout)


@pytest.mark.parametrize("size", [(1, 1), (1, 4), (3, 2), (4, 4)], ids=str)
def test_winograd_gradcheck(size):
    assert gradcheck_module(WinogradConv2d(2, 3), torch.randn(2, 2, *size))


def test_winograd_agrees_with_conv2d_in_float32_at_the_unets_width():
    """The transforms reorder the sums: float32 results stay within rounding of F.conv2d's."""
    torch.manual_seed(0)
    conv = WinogradConv2d(48, 48)
    x = torch.rand(2, 48, 16, 16).clone(memory_format=torch.channels_last)
    y = conv.forward(x)
    torch.testing.assert_close(y, F.conv2d(x, conv.weight, conv.bias, padding=1), rtol=1e-5, atol=1e-5)
    grad = conv.backward(torch.ones_like(y))
    x_ref = x.clone().requires_grad_()
    F.conv2d(x_ref, conv.weight, conv.bias, padding=1).backward(torch.ones_like(y))
    torch.testing.assert_close(grad, x_ref.grad, rtol=1e-5, atol=1e-4)
