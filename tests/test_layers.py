"""Every layer against torch.autograd.

Property-based over batch, channels, odd and even sizes, kernel, stride, padding,
dilation, output_padding, scale factor, bias and memory layout (of the input and,
independently, of the upstream gradient); then named edge cases, ``gradcheck`` through
an autograd adapter, and the accumulation of parameter gradients.
"""
import math
import re
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, strategies as st

from helpers import LAYOUTS, TOLERANCE, as_layout, check_against_autograd, gradcheck_module, twin
from Miniproject_2.others.kernels import conv_kernels
from Miniproject_2.others.kernels.conv_kernels import ALGORITHMS, convolution
from Miniproject_2.others.kernels.im2col import Window
from Miniproject_2.others import (MSE, AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling, ReLU, Sequential,
                                  Sigmoid, TransposeConv2d, Upsampling)

pytestmark = pytest.mark.usefixtures("one_thread")

layouts = st.sampled_from(LAYOUTS)
seeds = st.integers(0, 2**31 - 1)
batches = st.integers(1, 3)
channels = st.integers(1, 4)


def int_or_pair(low, high):
    """Hyper-parameters are accepted as an int or an (h, w) pair: draw both forms."""
    value = st.integers(low, high)
    return st.one_of(value, st.tuples(value, value))


def as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


#: Every value a convolution layer's ``algorithm`` takes besides "auto": one product order
#: for both passes, or a different one in each.
ORDERS = [*ALGORITHMS, *((f, b) for f in ALGORITHMS for b in ALGORITHMS if f != b)]


@st.composite
def conv_cases(draw, strides=int_or_pair(1, 3)):
    """Conv2d arguments and an input size the dilated kernel fits in once padded."""
    args = {"kernel_size": draw(int_or_pair(1, 4)), "stride": draw(strides),
            "padding": draw(st.one_of(int_or_pair(0, 3), st.just("valid"))),
            "dilation": draw(int_or_pair(1, 3))}
    padding = (0, 0) if args["padding"] == "valid" else as_pair(args["padding"])
    size = []
    for k, p, d in zip(as_pair(args["kernel_size"]), padding, as_pair(args["dilation"])):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)
        size.append(draw(st.integers(smallest, smallest + 6)))
    return args, size


@st.composite
def transpose_cases(draw, strides=int_or_pair(1, 3)):
    """TransposeConv2d arguments (output_padding < max(stride, dilation)) and an input size
    whose output is not empty."""
    kernel, stride = as_pair(draw(int_or_pair(1, 4))), as_pair(draw(strides))
    padding, dilation = as_pair(draw(int_or_pair(0, 3))), as_pair(draw(int_or_pair(1, 3)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = []
    for k, s, p, d, op in zip(kernel, stride, padding, dilation, output_padding):
        smallest = max(1, 1 + math.ceil((2 * p - d * (k - 1) - op) / s))
        size.append(draw(st.integers(smallest, smallest + 5)))
    args = {"kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation,
            "output_padding": output_padding}
    return args, size


@st.composite
def upsampling_cases(draw):
    """Upsampling arguments and an input size whose upsampled, padded image fits the kernel."""
    args = {"kernel_size": draw(int_or_pair(1, 4)), "padding": draw(int_or_pair(0, 3)),
            "dilation": draw(int_or_pair(1, 2)), "scale_factor": draw(int_or_pair(1, 3))}
    size = []
    for k, p, d, s in zip(*(as_pair(args[name]) for name in ("kernel_size", "padding", "dilation",
                                                              "scale_factor"))):
        smallest = max(1, math.ceil((d * (k - 1) + 1 - 2 * p) / s))
        size.append(draw(st.integers(smallest, smallest + 5)))
    return args, size


scale_factors = st.one_of(st.integers(1, 3), st.floats(0.2, 4.0), st.sampled_from([0.5, 1.5, 2.5, 1 / 3]))


@st.composite
def nearest_cases(draw):
    """NearestUpsampling arguments (size, or integer / non-integer scale factors) and an input size."""
    size = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    if draw(st.booleans()):
        return {"size": draw(int_or_pair(1, 12))}, size
    factor = draw(st.one_of(scale_factors, st.tuples(scale_factors, scale_factors)))
    assume(all(math.floor(n * f) >= 1 for n, f in zip(size, as_pair(factor))))
    return {"scale_factor": factor}, size


@pytest.mark.parametrize("module, cases", [(Conv2d, conv_cases()), (TransposeConv2d, transpose_cases()),
                                           (Upsampling, upsampling_cases())],
                         ids=["Conv2d", "TransposeConv2d", "Upsampling"])
@given(data=st.data(), batch=batches, cin=channels, cout=channels, bias=st.booleans(),
       layout=layouts, grad_layout=layouts, seed=seeds)
def test_convolutions_match_autograd(module, cases, data, batch, cin, cout, bias, layout, grad_layout, seed):
    args, size = data.draw(cases)
    torch.manual_seed(seed)
    check_against_autograd(module(cin, cout, bias=bias, **args), torch.randn(batch, cin, *size),
                           layout, grad_layout)


@pytest.mark.parametrize("module, cases", [(Conv2d, conv_cases(strides=st.just(1))),
                                           (TransposeConv2d, transpose_cases(strides=st.just(1))),
                                           (Upsampling, upsampling_cases())],
                         ids=["Conv2d", "TransposeConv2d", "Upsampling"])
@given(data=st.data(), algorithm=st.sampled_from(ORDERS), batch=batches, cin=channels, cout=channels,
       bias=st.booleans(), layout=layouts, grad_layout=layouts, seed=seeds)
def test_every_product_order_matches_autograd(module, cases, data, algorithm, batch, cin, cout, bias, layout,
                                              grad_layout, seed):
    """At stride 1 every layer runs in either order in either pass, chosen by ``algorithm``."""
    args, size = data.draw(cases)
    torch.manual_seed(seed)
    layer = module(cin, cout, bias=bias, **args)
    layer.algorithm = algorithm
    check_against_autograd(layer, torch.randn(batch, cin, *size), layout, grad_layout)


def drawn_layer(module, cases, data, cin, cout, bias, seed):
    """``(layer, input size)``: a convolution layer of drawn arguments, in a drawn product
    order where its stride allows any."""
    args, size = data.draw(cases)
    torch.manual_seed(seed)
    layer = module(cin, cout, bias=bias, **args)
    if as_pair(args.get("stride", 1)) == (1, 1):
        layer.algorithm = data.draw(st.sampled_from(ORDERS))
    return layer, size


#: im2col block sizes, in bytes: one output row per block, a few rows, whole images, all at once.
block_sizes = st.one_of(st.integers(1, 3000), st.just(1 << 30))


@pytest.mark.parametrize("module, cases", [(Conv2d, conv_cases()), (TransposeConv2d, transpose_cases()),
                                           (Upsampling, upsampling_cases())],
                         ids=["Conv2d", "TransposeConv2d", "Upsampling"])
@given(data=st.data(), block_bytes=block_sizes, batch=batches, cin=channels, cout=channels,
       bias=st.booleans(), grad_layout=layouts, seed=seeds)
def test_convolutions_in_any_block_size_match_autograd(module, cases, data, block_bytes, batch, cin, cout, bias,
                                                       grad_layout, seed):
    """The im2col matrix is built and multiplied block by block; every block size gives
    autograd's numbers, in every product order the layer's stride allows."""
    layer, size = drawn_layer(module, cases, data, cin, cout, bias, seed)
    with mock.patch.object(conv_kernels, "BLOCK_BYTES", block_bytes):
        check_against_autograd(layer, torch.randn(batch, cin, *size), "channels_last", grad_layout)


@given(data=st.data(), numbers=st.one_of(st.none(), st.integers(1, 400)), batch=batches, c=channels,
       seed=seeds)
def test_im2col_blocks_are_the_im2col_matrix_in_order(data, numbers, batch, c, seed):
    """The blocks come in order, with consecutive positions, and together are the im2col
    matrix (padding, crops, stride and dilation included), for any block size."""
    args, size = data.draw(conv_cases())
    kernel, stride, dilation = (as_pair(args[k]) for k in ("kernel_size", "stride", "dilation"))
    top, left = (0, 0) if args["padding"] == "valid" else as_pair(args["padding"])
    bottom, right = data.draw(st.integers(-2, top)), data.draw(st.integers(-2, left))  # negative: a crop
    assume(min(n + low for n, low in zip(size, (bottom, right))) >= 1)
    window = Window(kernel, stride, dilation, (top, bottom, left, right), tuple(size))
    assume(min(window.out_size) >= 1)
    torch.manual_seed(seed)
    x = torch.randn(batch, *size, c)
    padded = F.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom))
    columns = F.unfold(padded, kernel, dilation=dilation, stride=stride)  # (N, C*kh*kw, L), C first
    expected = columns.view(batch, c, *kernel, -1).permute(0, 4, 2, 3, 1).reshape(-1, kernel[0] * kernel[1] * c)
    start, rows = 0, []
    for positions, cols in window.im2col_blocks(x, numbers):
        assert positions == slice(start, start + cols.shape[0])
        start = positions.stop
        rows.append(cols.clone())
    assert start == expected.shape[0]
    assert torch.equal(torch.cat(rows), expected)


@given(case=nearest_cases(), batch=batches, c=channels, layout=layouts, grad_layout=layouts, seed=seeds)
def test_nearest_upsampling_matches_autograd(case, batch, c, layout, grad_layout, seed):
    args, size = case
    torch.manual_seed(seed)
    check_against_autograd(NearestUpsampling(**args), torch.randn(batch, c, *size), layout, grad_layout)


@pytest.mark.parametrize("module", [ReLU, Sigmoid])
@given(batch=batches, c=channels, h=st.integers(1, 7), w=st.integers(1, 7), scale=st.sampled_from([1.0, 10.0]),
       layout=layouts, grad_layout=layouts, seed=seeds)
def test_activation_matches_autograd(module, batch, c, h, w, scale, layout, grad_layout, seed):
    torch.manual_seed(seed)
    check_against_autograd(module(), scale * torch.randn(batch, c, h, w), layout, grad_layout)


slopes = st.one_of(st.sampled_from([0.0, 0.01, 0.2, 1.0, -0.5, 3.0]), st.floats(-5.0, 5.0))


@given(slope=slopes, batch=batches, c=channels, h=st.integers(1, 7), w=st.integers(1, 7),
       scale=st.sampled_from([1.0, 10.0]), layout=layouts, grad_layout=layouts, seed=seeds)
def test_leaky_relu_matches_autograd(slope, batch, c, h, w, scale, layout, grad_layout, seed):
    torch.manual_seed(seed)
    check_against_autograd(LeakyReLU(slope), scale * torch.randn(batch, c, h, w), layout, grad_layout)


@st.composite
def sequential_cases(draw):
    """A random chain of our layers (sometimes nested) and a matching input shape."""
    size = start = draw(st.integers(1, 4)) * 2
    c = first = draw(channels)
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "down", "up", "transpose", "nearest", "relu", "sigmoid", "leaky",
                                     "maxpool", "avgpool"]))
        out = draw(channels)
        if kind == "conv":
            layers.append(Conv2d(c, out, 3, padding=1))
        elif kind == "down" and size % 2 == 0:
            layers.append(Conv2d(c, out, 2, stride=2))
            size //= 2
        elif kind in ("up", "transpose", "nearest") and size <= 8:
            layers.append({"up": Upsampling(c, out, 3, padding=1),
                           "transpose": TransposeConv2d(c, out, 2, stride=2),
                           "nearest": NearestUpsampling(scale_factor=2)}[kind])
            size *= 2
            out = c if kind == "nearest" else out
        elif kind in ("maxpool", "avgpool") and size % 2 == 0:
            layers.append(MaxPool2d(2) if kind == "maxpool" else AvgPool2d(3, stride=2, padding=1))
            size //= 2
            out = c
        elif kind in ("relu", "sigmoid", "leaky"):
            layers.append({"relu": ReLU, "sigmoid": Sigmoid, "leaky": lambda: LeakyReLU(0.2)}[kind]())
            out = c
        else:
            continue
        c = out
    if len(layers) > 2 and draw(st.booleans()):
        layers[-2:] = [Sequential(*layers[-2:])]
    return Sequential(*layers), (first, start)


@given(case=sequential_cases(), batch=batches, layout=layouts, grad_layout=layouts, seed=seeds)
def test_sequential_matches_torch_sequential(case, batch, layout, grad_layout, seed):
    net, (c, size) = case
    torch.manual_seed(seed)
    # The layers were built while drawing, before the seed: give them seeded weights so a
    # failing example replays exactly.
    net.load_state_dict({k: torch.randn(v.shape) for k, v in net.state_dict().items()})
    check_against_autograd(net, torch.randn(batch, c, size, size), layout, grad_layout)


@given(shape=st.lists(st.integers(1, 4), min_size=4, max_size=4), reduction=st.sampled_from(["mean", "sum", "none"]),
       layout=layouts, target_layout=layouts, seed=seeds)
def test_mse_matches_autograd(shape, reduction, layout, target_layout, seed):
    torch.manual_seed(seed)
    x, target = torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)
    mse = MSE(reduction)
    loss = mse.forward(as_layout(x, layout), as_layout(target, target_layout))
    grad_output = torch.randn(loss.shape, dtype=torch.float64)
    grad = mse.backward(grad_output)
    x_ref = x.clone().requires_grad_()
    loss_ref = F.mse_loss(x_ref, target, reduction=reduction)
    loss_ref.backward(grad_output)
    torch.testing.assert_close(loss, loss_ref.detach(), **TOLERANCE)
    torch.testing.assert_close(grad, x_ref.grad, **TOLERANCE)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_backward_defaults_to_the_gradient_of_the_loss(reduction):
    x, target = torch.randn(2, 3, 4, 5, dtype=torch.float64), torch.randn(2, 3, 4, 5, dtype=torch.float64)
    mse = MSE(reduction)
    mse.forward(x, target)
    x_ref = x.clone().requires_grad_()
    F.mse_loss(x_ref, target, reduction=reduction).backward()
    torch.testing.assert_close(mse.backward(), x_ref.grad, **TOLERANCE)


@pytest.mark.parametrize("layout", ["contiguous", "sliced"])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (1, 2, 3, 4, 5)], ids=str)
@pytest.mark.parametrize("module", [ReLU, Sigmoid, LeakyReLU])
def test_activations_accept_any_rank(module, shape, layout):
    check_against_autograd(module(), torch.randn(shape), layout, layout)


# -- named edge cases -------------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_relu_gradient_at_exactly_zero_is_zero_like_torch(layout):
    x = torch.tensor([-2.0, -0.0, 0.0, 1.5]).repeat(2, 3, 4, 1)
    relu = ReLU()
    y = relu.forward(as_layout(x, layout))
    grad = relu.backward(torch.ones_like(x))
    assert torch.equal(grad, (x > 0).to(x.dtype))
    assert torch.equal(y, torch.relu(x))
    check_against_autograd(ReLU(), x, layout, layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("slope", [0.0, 0.01, 1.0, -0.5])
def test_leaky_relu_at_exactly_zero_has_the_negative_slope_like_torch(slope, layout):
    """0 (and -0) count as negative, as in torch: gradient ``negative_slope``, which is 0 for
    slope 0 (ReLU) and 1 everywhere for slope 1 (the identity)."""
    x = torch.tensor([-2.0, -0.0, 0.0, 1.5]).repeat(2, 3, 4, 1)
    leaky = LeakyReLU(slope)
    y = leaky.forward(as_layout(x, layout))
    grad = leaky.backward(torch.ones_like(x))
    assert torch.equal(grad, torch.tensor([slope, slope, slope, 1.0]).expand_as(x))
    assert torch.equal(y, torch.nn.functional.leaky_relu(x, slope))
    if slope == 1.0:
        assert torch.equal(y, x) and torch.equal(grad, torch.ones_like(x))
    check_against_autograd(LeakyReLU(slope), x, layout, layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("slope", [0.0, 1e-3, 0.1, 0.7, 1.0, -0.5, 3.0])
def test_leaky_relu_is_torch_bit_for_bit_in_float32(slope, layout):
    """Whichever way a slope is computed (max(x, slope x) for slopes in (0, 1], a selection
    otherwise), values and gradients are torch's exactly, non-finite ones included."""
    torch.manual_seed(0)
    special = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38])
    x = torch.cat([torch.randn(2 * 3 * 4 * 5 - special.numel()), special]).view(2, 3, 4, 5)
    upstream = torch.cat([special, torch.randn(x.numel() - special.numel())]).view(x.shape)
    leaky = LeakyReLU(slope)
    y = leaky.forward(as_layout(x, layout))
    grad = leaky.backward(as_layout(upstream, layout))
    x_ref = x.clone().requires_grad_()
    y_ref = torch.nn.functional.leaky_relu(x_ref, slope)
    y_ref.backward(upstream)
    torch.testing.assert_close(y, y_ref.detach(), rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(grad, x_ref.grad, rtol=0, atol=0, equal_nan=True)
    for ours, theirs in ((y, y_ref.detach()), (grad, x_ref.grad)):  # the zeros' signs (a NaN's means nothing)
        assert torch.equal(ours.signbit() | ours.isnan(), theirs.signbit() | theirs.isnan())


def test_leaky_relu_keeps_nan_and_infinities_like_torch():
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), -1.0]).repeat(2, 1)
    for slope in (0.0, 0.01, 1.0):
        leaky = LeakyReLU(slope)
        torch.testing.assert_close(leaky.forward(x), torch.nn.functional.leaky_relu(x, slope), equal_nan=True)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_saturated_sigmoid_is_exactly_zero_or_one_without_nan(dtype, layout):
    x = torch.tensor([-1000.0, -100.0, 100.0, 1000.0], dtype=dtype).repeat(1, 2, 3, 1)
    sigmoid = Sigmoid()
    y = sigmoid.forward(as_layout(x, layout))
    grad = sigmoid.backward(torch.ones_like(x))
    assert torch.isfinite(y).all() and torch.isfinite(grad).all()
    assert torch.equal(y[..., 0], torch.zeros_like(y[..., 0]))
    assert torch.equal(y[..., 3], torch.ones_like(y[..., 3]))
    assert torch.equal(grad[..., [0, 3]], torch.zeros_like(grad[..., [0, 3]]))
    assert torch.equal(y, torch.sigmoid(x))


ONE_BY_ONE = [
    lambda: Conv2d(2, 3, 1), lambda: Conv2d(2, 3, 3, padding=1), lambda: Conv2d(2, 3, 2, stride=2, padding=1),
    lambda: TransposeConv2d(2, 3, 3), lambda: TransposeConv2d(2, 3, 2, stride=2),
    lambda: Upsampling(2, 3, 3, padding=1), lambda: Upsampling(2, 3, 1, scale_factor=3),
    lambda: NearestUpsampling(scale_factor=3), lambda: NearestUpsampling(size=(2, 5)), ReLU, Sigmoid,
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("make", ONE_BY_ONE, ids=lambda make: repr(make()))
def test_one_by_one_images(make, layout):
    check_against_autograd(make(), torch.randn(2, 2, 1, 1), layout, layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("module, size", [
    (Conv2d(2, 3, 5), (5, 5)), (Conv2d(2, 3, (3, 4)), (3, 4)), (Conv2d(2, 3, 3, dilation=2), (5, 5)),
    (Conv2d(2, 3, 4, padding=1), (2, 2)), (Upsampling(2, 3, 4), (2, 2)), (Upsampling(2, 3, 5, scale_factor=(1, 5)), (5, 1)),
], ids=repr)
def test_kernel_as_large_as_the_input(module, size, layout):
    check_against_autograd(module, torch.randn(2, 2, *size), layout, "contiguous")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("module, size", [
    (Conv2d(2, 3, 3, stride=2), (7, 9)), (Conv2d(2, 3, 2, stride=2), (7, 5)), (Conv2d(2, 3, (2, 3), stride=(3, 2)), (11, 9)),
    (TransposeConv2d(2, 3, 3, stride=2, padding=1, output_padding=1), (5, 3)),
    (Upsampling(2, 3, 3, padding=1, scale_factor=3), (5, 7)), (Upsampling(2, 3, 2), (3, 5)),
    (NearestUpsampling(scale_factor=2), (3, 5)),
], ids=repr)
def test_odd_sizes(module, size, layout):
    check_against_autograd(module, torch.randn(2, 2, *size), layout, layout)


product_orders = pytest.mark.parametrize("algorithm", ORDERS, ids=str)


@product_orders
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("args, size", [
    ({"kernel_size": 3, "padding": 1}, (6, 5)), ({"kernel_size": (3, 5), "padding": (1, 2), "dilation": (2, 1)}, (5, 7)),
    ({"kernel_size": 2, "padding": (1, 0)}, (3, 4)), ({"kernel_size": 3, "padding": (5, 3), "dilation": 2}, (7, 2)),
], ids=str)
def test_convolution_in_either_order(args, size, bias, layout, algorithm):
    """Output, input, weight and bias gradients in every order, including padding wider than
    the kernel (the other order's window then crops)."""
    conv = Conv2d(3, 4, bias=bias, **args)
    conv.algorithm = algorithm
    check_against_autograd(conv, torch.randn(2, 3, *size), layout, layout)


@product_orders
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("args, size", [
    ({"kernel_size": 3, "padding": 1}, (6, 5)),
    ({"kernel_size": (3, 5), "padding": (1, 2), "dilation": (2, 3), "output_padding": (1, 2)}, (5, 7)),
    ({"kernel_size": 2, "padding": (1, 0)}, (3, 4)), ({"kernel_size": 2, "padding": 2}, (5, 6)),
], ids=str)
def test_transposed_convolution_in_either_order(args, size, bias, layout, algorithm):
    conv = TransposeConv2d(3, 4, bias=bias, **args)
    conv.algorithm = algorithm
    check_against_autograd(conv, torch.randn(2, 3, *size), layout, layout)


@product_orders
@pytest.mark.parametrize("args, size", [
    ({"kernel_size": 7, "padding": 3}, (4, 5)), ({"kernel_size": 3, "padding": 1, "scale_factor": (3, 2)}, (3, 4)),
    ({"kernel_size": (2, 4), "dilation": 2, "padding": (4, 0)}, (2, 4)),
], ids=str)
def test_upsampling_in_either_order(args, size, algorithm):
    """The same orders for Upsampling, whose phases make s*s*C_out product columns."""
    upsampling = Upsampling(3, 4, **args)
    upsampling.algorithm = algorithm
    check_against_autograd(upsampling, torch.randn(2, 3, *size), "channels_last", "channels_last")


@pytest.mark.parametrize("make, layout, expected", [
    (lambda: Conv2d(16, 3, 3, padding=1), "channels_last", ("multiply_first", "multiply_first")),
    (lambda: Conv2d(16, 16, 3, padding=1), "channels_last", ("im2col", "multiply_first")),
    (lambda: Conv2d(32, 16, 3, padding=1), "channels_last", ("im2col", "multiply_first")),
    (lambda: Conv2d(3, 16, 3, padding=1), "channels_last", ("im2col", "im2col")),
    (lambda: Conv2d(16, 3, 2, stride=2), "channels_last", ("im2col", "im2col")),
    (lambda: Conv2d(16, 3, 3, padding=1), "contiguous", ("im2col", "multiply_first")),
    (lambda: TransposeConv2d(16, 3, 3, padding=1), "channels_last", ("multiply_first", "multiply_first")),
], ids=["few outputs", "as many outputs", "half the outputs", "many outputs", "stride 2", "exact NCHW forward",
        "transposed"])
def test_auto_decides_both_orders_once_in_forward(make, layout, expected):
    """``"auto"`` multiplies first in forward only for far fewer outputs than inputs, in
    backward unless there are far more, and keeps torch's reference for an NCHW input;
    the cache records it."""
    conv = make()
    x = as_layout(torch.randn(2, conv.in_channels, 8, 8), layout)
    _, cache = convolution(x, conv.weight, conv.bias, conv._window(x), conv._transposed)
    assert cache.algorithm == expected


@pytest.mark.parametrize("make, algorithm, message", [
    (lambda: Conv2d(2, 3, 3), "fft", "'fft'"), (lambda: Conv2d(2, 3, 3), ("im2col",), "('im2col',)"),
    (lambda: Conv2d(2, 3, 3, stride=2), "multiply_first", "stride (2, 2)"),
    (lambda: TransposeConv2d(2, 3, 3, stride=(1, 2)), ("multiply_first", "im2col"), "stride (1, 2)"),
], ids=["unknown", "not a pair", "stride 2", "transposed, stride (1, 2)"])
def test_an_unusable_algorithm_is_refused_naming_it(make, algorithm, message):
    conv = make()
    conv.algorithm = algorithm
    with pytest.raises(ValueError, match=re.escape(message)):
        conv.forward(torch.randn(1, 2, 6, 6))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("args, size", [
    ({"scale_factor": 1.5}, (4, 6)), ({"scale_factor": 0.5}, (5, 7)), ({"scale_factor": 2.7}, (3, 4)),
    ({"scale_factor": (1.3, 0.8)}, (5, 6)), ({"scale_factor": 1 / 3}, (9, 7)), ({"scale_factor": 1.01}, (10, 10)),
    ({"scale_factor": 2.1}, (5, 5)), ({"size": (7, 5)}, (3, 4)), ({"size": 2}, (6, 3)), ({"size": (11, 1)}, (4, 4)),
], ids=str)
def test_nearest_upsampling_non_integer_scale_and_explicit_size(args, size, layout):
    check_against_autograd(NearestUpsampling(**args), torch.randn(2, 3, *size), layout, layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("args, size", [
    ({"scale_factor": 2}, (5, 6)), ({"scale_factor": 3}, (4, 3)), ({"scale_factor": (2, 3)}, (3, 5)),
    ({"scale_factor": 1}, (4, 4)), ({"size": (10, 4)}, (5, 2)), ({"scale_factor": 4.0}, (3, 3)),
], ids=str)
def test_nearest_upsampling_by_whole_factors_is_torch_bit_for_bit(args, size, layout):
    """Each pixel repeated k times (one broadcasting copy) and, backward, the k x k copies'
    gradients added in torch's order: float32 values and gradients equal torch's exactly."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, *size)
    up = NearestUpsampling(**args)
    y = up.forward(as_layout(x, layout))
    upstream = torch.randn(y.shape).mul_(1e4).round_().mul_(torch.rand(y.shape))  # cancellations, rounding
    grad = up.backward(as_layout(upstream, layout))
    x_ref = x.clone().requires_grad_()
    y_ref = F.interpolate(x_ref, size=up.size, scale_factor=up.scale_factor, mode="nearest")
    y_ref.backward(upstream)
    assert torch.equal(y, y_ref.detach()) and torch.equal(grad, x_ref.grad)
    assert y.is_contiguous(memory_format=torch.channels_last) == (layout == "channels_last")


# -- gradcheck through an autograd adapter ----------------------------------------------------

@pytest.mark.parametrize("module, size", [
    (Conv2d(2, 3, 3, stride=2, padding=1), (5, 4)), (Conv2d(2, 2, (2, 3), dilation=(2, 1), bias=False), (4, 5)),
    (TransposeConv2d(2, 3, 3, stride=2, padding=1, output_padding=1), (3, 2)),
    (TransposeConv2d(2, 2, 2, dilation=2, bias=False), (2, 3)),
    (Upsampling(2, 3, 3, padding=1), (3, 2)), (Upsampling(2, 2, 2, scale_factor=(3, 2), bias=False), (2, 2)),
    (NearestUpsampling(scale_factor=1.5), (3, 2)), (ReLU(), (3, 3)), (Sigmoid(), (3, 3)), (LeakyReLU(0.1), (3, 3)),
    (Sequential(Conv2d(2, 3, 2, stride=2), ReLU(), Upsampling(3, 2, 3, padding=1), Sigmoid()), (4, 4)),
], ids=repr)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gradcheck(module, size, layout):
    assert gradcheck_module(module, as_layout(torch.randn(2, 2, *size), layout))


# -- gradient accumulation --------------------------------------------------------------------

PARAMETRIC = [
    lambda: Conv2d(2, 3, 3, padding=1), lambda: TransposeConv2d(2, 3, 3, stride=2),
    lambda: Upsampling(2, 3, 3, padding=1),
    lambda: Sequential(Conv2d(2, 3, 2, stride=2), ReLU(), Upsampling(3, 2, 3, padding=1), Sigmoid()),
]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("make", PARAMETRIC, ids=lambda make: type(make()).__name__)
def test_backward_accumulates_parameter_gradients_until_zero_grad(make, layout):
    module = make()
    x = as_layout(torch.randn(2, 2, 4, 4), layout)
    grad_output = torch.randn(module.forward(x).shape)
    first = module.backward(grad_output)
    once = [grad.clone() for _, grad in module.param()]
    second = module.backward(grad_output)
    assert torch.equal(first, second), "the input gradient must not accumulate"
    for (_, grad), single in zip(module.param(), once):
        assert torch.equal(grad, 2 * single)
    module.zero_grad()
    assert all(not grad.any() for _, grad in module.param())


def test_gradients_of_two_batches_add_up():
    net = PARAMETRIC[-1]().to(dtype=torch.float64)
    reference = twin(net)
    for _ in range(2):
        x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
        grad_output = torch.randn(3, 2, 4, 4, dtype=torch.float64)
        net.forward(x)
        net.backward(grad_output)
        reference(x).backward(grad_output)
    for (name, p), (_, grad) in zip(reference.named_parameters(), net.param()):
        torch.testing.assert_close(grad, p.grad, **TOLERANCE, msg=name)


def test_modules_lists_every_module_parents_first():
    inner = Sequential(Conv2d(3, 4, 3), ReLU())
    outer = Sequential(inner, Sigmoid())
    assert [type(m).__name__ for m in outer.modules()] == ["Sequential", "Sequential", "Conv2d", "ReLU", "Sigmoid"]
    assert outer.modules()[2] is inner[0] and outer.layers == [inner, outer[1]]
