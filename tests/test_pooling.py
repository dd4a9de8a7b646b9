"""MaxPool2d and AvgPool2d against torch.autograd (through torch.nn's own pooling modules).

Property-based over batch, channels, odd and even sizes, kernel, stride, padding, the
average's divisor options and the memory layout of the input and of the upstream
gradient; then named edge cases: ties and NaN in max pooling, ``-inf`` windows, the
kernel as large as the input, odd sizes, gradcheck and the refused arguments.
"""
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, strategies as st

from helpers import LAYOUTS, as_layout, check_against_autograd, gradcheck_module
from Miniproject_2.others import AvgPool2d, LeakyReLU, MaxPool2d, NNUpsampling, NearestUpsampling, Sequential

pytestmark = pytest.mark.usefixtures("one_thread")

layouts = st.sampled_from(LAYOUTS)
seeds = st.integers(0, 2**31 - 1)


def int_or_pair(values):
    return st.one_of(values, st.tuples(values, values))


def as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


@st.composite
def pool_cases(draw):
    """Window arguments (padding at most half the kernel, as torch requires) and an input
    size that the padded input covers the kernel in."""
    kernel = as_pair(draw(int_or_pair(st.integers(1, 4))))
    stride = draw(st.one_of(st.none(), int_or_pair(st.integers(1, 3))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = [draw(st.integers(max(1, k - 2 * p), k - 2 * p + 6)) for k, p in zip(kernel, padding)]
    return {"kernel_size": kernel, "stride": stride, "padding": padding}, size


@given(case=pool_cases(), batch=st.integers(1, 3), c=st.integers(1, 4), ties=st.booleans(),
       layout=layouts, grad_layout=layouts, seed=seeds)
def test_max_pool_matches_autograd(case, batch, c, ties, layout, grad_layout, seed):
    args, size = case
    torch.manual_seed(seed)
    x = torch.randn(batch, c, *size)
    if ties:  # few distinct values: most windows hold tied maxima
        x = x.mul(1.5).round()
    check_against_autograd(MaxPool2d(**args), x, layout, grad_layout)


@given(case=pool_cases(), batch=st.integers(1, 3), c=st.integers(1, 4), count_include_pad=st.booleans(),
       divisor_override=st.one_of(st.none(), st.integers(1, 7)), layout=layouts, grad_layout=layouts, seed=seeds)
def test_avg_pool_matches_autograd(case, batch, c, count_include_pad, divisor_override, layout, grad_layout, seed):
    args, size = case
    torch.manual_seed(seed)
    module = AvgPool2d(**args, count_include_pad=count_include_pad, divisor_override=divisor_override)
    check_against_autograd(module, torch.randn(batch, c, *size), layout, grad_layout)


# -- named edge cases -------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("args", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1},
                                  {"kernel_size": (2, 3), "stride": (1, 2)}], ids=str)
def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order(args, layout):
    """An all-equal input: every window's gradient goes to its first (top-left) real pixel."""
    x = torch.ones(1, 1, 5, 6)
    pool = MaxPool2d(**args)
    y = pool.forward(as_layout(x, layout))
    grad = pool.backward(torch.ones_like(y))
    x_ref = x.clone().requires_grad_()
    F.max_pool2d(x_ref, **args).backward(torch.ones_like(y))
    assert torch.equal(grad, x_ref.grad)
    first = torch.zeros(y.shape[2:])
    kernel, stride, padding = (as_pair(args.get(k, d)) for k, d in
                               (("kernel_size", 0), ("stride", args["kernel_size"]), ("padding", 0)))
    for o in range(y.shape[2]):
        for q in range(y.shape[3]):
            first[o, q] = max(0, o * stride[0] - padding[0]) * 6 + max(0, q * stride[1] - padding[1])
    expected = torch.zeros(30).index_add_(0, first.flatten().long(), torch.ones(first.numel())).view(1, 1, 5, 6)
    assert torch.equal(grad, expected)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fill", [float("-inf"), float("nan")], ids=str)
def test_max_pool_infinite_and_nan_windows_like_torch(fill, layout):
    """A window of -inf routes its gradient to its first real pixel (never the -inf
    padding); a NaN wins over numbers, the last NaN over earlier ones, as in torch."""
    x = torch.randn(2, 2, 5, 5)
    x[0, 0] = fill
    x[1, 1, 1:4, 2] = fill
    for args in ({"kernel_size": 3, "stride": 1, "padding": 1}, {"kernel_size": 2, "stride": 2, "padding": 1}):
        pool = MaxPool2d(**args)
        y = pool.forward(as_layout(x, layout))
        upstream = torch.randn(y.shape)
        grad = pool.backward(upstream)
        x_ref = x.clone().requires_grad_()
        y_ref = F.max_pool2d(x_ref, **args)
        y_ref.backward(upstream)
        torch.testing.assert_close(y, y_ref.detach(), equal_nan=True, rtol=0, atol=0)
        torch.testing.assert_close(grad, x_ref.grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size", [(6, 8), (7, 9)], ids=str)
def test_max_pool_2x2_tiles_are_torch_bit_for_bit(size, layout):
    """The U-Net's MaxPool2d(2) runs as a tournament of the four pixels of each tile: the
    value (up to the sign of a zero) and the pixel its gradient goes to are torch's in
    every kind of tile (ties, signed zeros, NaN among numbers and among NaNs, -inf), and so
    is an infinite upstream gradient (it reaches one pixel; the other three get exact zeros)."""
    torch.manual_seed(0)
    kinds = torch.tensor([1.0, 2.0, 0.0, -0.0, float("nan"), float("-inf"), float("inf")])
    x = kinds[torch.randint(0, len(kinds), (3, 4, *size))]
    pool = MaxPool2d(2)
    y = pool.forward(as_layout(x, layout))
    upstream = torch.randn(y.shape)
    upstream[0, 0, 0, :2] = torch.tensor([float("inf"), float("nan")])
    grad = pool.backward(upstream)
    x_ref = x.clone().requires_grad_()
    y_ref = F.max_pool2d(x_ref, 2)
    y_ref.backward(upstream)
    torch.testing.assert_close(y, y_ref.detach(), equal_nan=True, rtol=0, atol=0)
    torch.testing.assert_close(grad, x_ref.grad, equal_nan=True, rtol=0, atol=0)
    assert y.is_contiguous(memory_format=torch.channels_last) == (layout == "channels_last")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool_2x2_tiles_under_inference_give_the_same_values_and_keep_nothing(layout):
    """Under ``inference()`` the tiles' tournament skips which pixel won (backward's only);
    the values are the same, and a backward afterwards fails as after no forward at all."""
    from Miniproject_2.others.layers.module import inference
    torch.manual_seed(0)
    kinds = torch.tensor([1.0, 2.0, 0.0, float("nan"), float("-inf"), float("inf")])
    x = as_layout(kinds[torch.randint(0, len(kinds), (2, 3, 7, 9))], layout)
    pool = MaxPool2d(2)
    kept = pool.forward(x)
    with inference():
        fast = pool.forward(x)
    torch.testing.assert_close(fast, kept, equal_nan=True, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        pool.backward(torch.ones(kept.shape))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("module, size", [
    (MaxPool2d(5), (5, 5)), (MaxPool2d((3, 4)), (3, 4)), (MaxPool2d(4, padding=2), (1, 1)),
    (AvgPool2d(5), (5, 5)), (AvgPool2d((3, 4)), (3, 4)), (AvgPool2d(3, padding=1, count_include_pad=False), (1, 1)),
    (AvgPool2d(2, padding=1, divisor_override=3), (1, 1)),
], ids=repr)
def test_kernel_as_large_as_the_input(module, size, layout):
    check_against_autograd(module, torch.randn(2, 3, *size), layout, "contiguous")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("module, size", [
    (MaxPool2d(2), (7, 9)), (MaxPool2d(3, stride=2, padding=1), (7, 5)), (MaxPool2d((2, 3), stride=(3, 2)), (11, 9)),
    (AvgPool2d(2), (7, 9)), (AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (7, 5)),
    (AvgPool2d((2, 3), stride=(3, 2), padding=(1, 0)), (11, 9)),
], ids=repr)
def test_odd_sizes(module, size, layout):
    check_against_autograd(module, torch.randn(2, 3, *size), layout, layout)


@pytest.mark.parametrize("module, size", [
    (MaxPool2d(2), (4, 4)), (MaxPool2d(3, stride=2, padding=1), (5, 4)),
    (AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (5, 4)), (AvgPool2d(2, divisor_override=3), (4, 5)),
    (Sequential(AvgPool2d(2), MaxPool2d(2, stride=1)), (6, 6)),
], ids=repr)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gradcheck(module, size, layout):
    assert gradcheck_module(module, as_layout(torch.randn(2, 2, *size), layout))


@pytest.mark.parametrize("make", [lambda: MaxPool2d(2), lambda: AvgPool2d(3, stride=2, padding=1)], ids=repr)
def test_channels_last_in_gives_channels_last_out(make):
    y = make().forward(as_layout(torch.randn(2, 3, 6, 4), "channels_last"))
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()


@pytest.mark.parametrize("make", [lambda: MaxPool2d(2), lambda: AvgPool2d(2)], ids=repr)
def test_backward_before_forward_and_after_an_in_place_change(make):
    pool = make()
    with pytest.raises(RuntimeError, match=re.escape(f"{pool!r}: backward called before forward")):
        pool.backward(torch.ones(1, 1, 2, 2))
    y = pool.forward(torch.randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match=re.escape("grad_output has shape (1, 1, 3, 2), expected (1, 1, 2, 2)")):
        pool.backward(torch.ones(1, 1, 3, 2))
    first = pool.backward(torch.ones_like(y))
    assert first.shape == (1, 1, 4, 4)
    assert torch.equal(pool.backward(torch.ones_like(y)), first), "the input gradient must not accumulate"


def test_default_stride_is_the_kernel_size():
    assert MaxPool2d(3).stride == (3, 3) and AvgPool2d((2, 3)).stride == (2, 3)
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(AvgPool2d(3, 1, 1, count_include_pad=False, divisor_override=2)) == (
        "AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), count_include_pad=False, divisor_override=2)")


@pytest.mark.parametrize("make, message", [
    (lambda: MaxPool2d(2, dilation=2), "MaxPool2d: dilation=(2, 2) is not supported (only dilation=(1, 1))"),
    (lambda: MaxPool2d(2, return_indices=True), "MaxPool2d: return_indices=True is not supported"),
    (lambda: MaxPool2d(2, ceil_mode=True), "MaxPool2d: ceil_mode=True is not supported (only ceil_mode=False)"),
    (lambda: AvgPool2d(2, ceil_mode=True), "AvgPool2d: ceil_mode=True is not supported (only ceil_mode=False)"),
    (lambda: MaxPool2d(3, padding=2), "MaxPool2d: padding must be at most half the kernel size (as in torch), "
                                      "got padding=(2, 2) for kernel_size=(3, 3)"),
    (lambda: AvgPool2d(0), "AvgPool2d: kernel_size must be >= 1, got 0"),
    (lambda: AvgPool2d(2, stride=0), "AvgPool2d: stride must be >= 1, got 0"),
    (lambda: AvgPool2d(2, divisor_override=0), "AvgPool2d: divisor_override must be a positive int, got 0"),
    (lambda: AvgPool2d(2, count_include_pad=1), "AvgPool2d: count_include_pad must be True or False, got 1"),
    (lambda: LeakyReLU(inplace=True), "LeakyReLU: inplace=True is not supported (only inplace=False)"),
    (lambda: LeakyReLU("0.1"), "LeakyReLU: negative_slope must be a number in [-inf, inf], got '0.1'"),
    (lambda: LeakyReLU(float("nan")), "LeakyReLU: negative_slope must be a number in [-inf, inf], got nan"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_refused_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


@pytest.mark.parametrize("module", [MaxPool2d(3), AvgPool2d(5, stride=1, padding=1)], ids=repr)
def test_input_smaller_than_the_window(module):
    with pytest.raises(ValueError, match=re.escape(f"{module!r}: input of shape (1, 2, 2, 5) gives an output of size")):
        module.forward(torch.randn(1, 2, 2, 5))


def test_nn_upsampling_is_nearest_upsampling():
    assert NNUpsampling is NearestUpsampling
    x = torch.randn(1, 2, 3, 3)
    assert torch.equal(NNUpsampling(scale_factor=2).forward(x), F.interpolate(x, scale_factor=2, mode="nearest"))
