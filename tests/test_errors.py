"""Bad arguments fail early, with an exception whose message names the module and the bad value."""
import re

import pytest
import torch

from Miniproject_2.others.layers.module import inference
from Miniproject_2.others import (MSE, SGD, Adam, AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling, ReLU,
                                  Sequential, Sigmoid, TransposeConv2d, Upsampling)

pytestmark = pytest.mark.usefixtures("one_thread")


def named(module, *fragments):
    """A ``match`` pattern: the module's repr, then each fragment, in order."""
    return ".*".join(re.escape(part) for part in (repr(module), *fragments))


@pytest.mark.parametrize("build, message", [
    (lambda: Conv2d(0, 3, 3), "Conv2d: in_channels must be a positive int, got 0"),
    (lambda: Conv2d(3, -1, 3), "Conv2d: out_channels must be a positive int, got -1"),
    (lambda: Conv2d(3.0, 3, 3), "Conv2d: in_channels must be a positive int, got 3.0"),
    (lambda: TransposeConv2d(-2, 3, 3), "TransposeConv2d: in_channels must be a positive int, got -2"),
    (lambda: Upsampling(3, 0, 3), "Upsampling: out_channels must be a positive int, got 0"),
    (lambda: Conv2d(3, 3, "3"), "Conv2d: kernel_size must be an int or a pair of ints, got '3'"),
    (lambda: Conv2d(3, 3, 2.5), "Conv2d: kernel_size must be an int or a pair of ints, got 2.5"),
    (lambda: Conv2d(3, 3, (3,)), "Conv2d: kernel_size must be an int or a pair of ints, got (3,)"),
    (lambda: Conv2d(3, 3, (3, 3, 3)), "Conv2d: kernel_size must be an int or a pair of ints, got (3, 3, 3)"),
    (lambda: Conv2d(3, 3, True), "Conv2d: kernel_size must be an int or a pair of ints, got True"),
    (lambda: Conv2d(3, 3, 0), "Conv2d: kernel_size must be >= 1, got 0"),
    (lambda: Conv2d(3, 3, 3, stride=0), "Conv2d: stride must be >= 1, got 0"),
    (lambda: Conv2d(3, 3, 3, stride="1"), "Conv2d: stride must be an int or a pair of ints, got '1'"),
    (lambda: Conv2d(3, 3, 3, padding=-1), "Conv2d: padding must be >= 0, got -1"),
    (lambda: Conv2d(3, 3, 3, padding=1.5), "Conv2d: padding must be an int or a pair of ints, got 1.5"),
    (lambda: Conv2d(3, 3, 3, padding=10 ** 30), f"Conv2d: padding must be <= {2 ** 31 - 1}, got {10 ** 30}"),
    (lambda: Conv2d(3, 2 ** 40, 3), f"Conv2d: out_channels must be <= {2 ** 31 - 1}, got {2 ** 40}"),
    (lambda: Conv2d(3, 3, 3, padding="same"), "Conv2d: padding must be an int or a pair of ints, got 'same'"),
    (lambda: Conv2d(3, 3, 3, dilation=(1, 0)), "Conv2d: dilation must be >= 1, got (1, 0)"),
    (lambda: Conv2d(3, 3, 3, groups=3), "Conv2d: groups=3 is not supported (only groups=1)"),
    (lambda: TransposeConv2d(3, 3, 3, groups=3), "TransposeConv2d: groups=3 is not supported"),
    (lambda: Upsampling(3, 3, 3, groups=3), "Upsampling: groups=3 is not supported"),
    (lambda: Conv2d(3, 3, 3, padding_mode="reflect"), "Conv2d: padding_mode='reflect' is not supported"),
    (lambda: TransposeConv2d(3, 3, 3, padding_mode="circular"), "TransposeConv2d: padding_mode='circular' is not"),
    (lambda: Upsampling(3, 3, 3, padding_mode="replicate"), "Upsampling: padding_mode='replicate' is not"),
    (lambda: TransposeConv2d(3, 3, 3, stride=2, output_padding=2),
     "TransposeConv2d: output_padding (2, 2) must be smaller than stride (2, 2) or dilation (1, 1)"),
    (lambda: Upsampling(3, 3, 3, stride=2), "Upsampling: stride=(2, 2) is not supported (only stride=(1, 1))"),
    (lambda: Upsampling(3, 3, 3, scale_factor=1.5), "Upsampling: scale_factor must be an int or a pair of ints, got 1.5"),
    (lambda: Upsampling(3, 3, 3, scale_factor=0), "Upsampling: scale_factor must be >= 1, got 0"),
    (lambda: NearestUpsampling(), "NearestUpsampling: give exactly one of size and scale_factor, got size=None"),
    (lambda: NearestUpsampling(size=4, scale_factor=2), "NearestUpsampling: give exactly one of size and scale_factor"),
    (lambda: NearestUpsampling(scale_factor=-1), "NearestUpsampling: scale_factor must be a positive number or pair, at most 2147483647, got -1"),
    (lambda: NearestUpsampling(scale_factor="2"), "NearestUpsampling: scale_factor must be a positive number or pair, at most 2147483647, got '2'"),
    (lambda: NearestUpsampling(scale_factor=float("inf")), "scale_factor must be a positive number or pair, at most 2147483647, got inf"),
    (lambda: NearestUpsampling(scale_factor=1e30), "scale_factor must be a positive number or pair, at most 2147483647, got 1e+30"),
    (lambda: NearestUpsampling(scale_factor=True), "scale_factor must be a positive number or pair, at most 2147483647, got True"),
    (lambda: NearestUpsampling(size=0), "NearestUpsampling: size must be >= 1, got 0"),
    (lambda: MSE("avg"), "MSE: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_constructor_arguments(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_sequential_rejects_what_is_not_one_of_our_modules():
    with pytest.raises(TypeError, match=re.escape("Sequential: argument 1 is a ReLU, not a Module")):
        Sequential(Conv2d(3, 3, 3), torch.nn.ReLU())


def test_rebinding_a_parameter_is_refused():
    conv = Conv2d(3, 3, 3)
    with pytest.raises(AttributeError, match=re.escape("Conv2d.weight is a parameter; update it in place")):
        conv.weight = torch.zeros(3, 3, 3, 3)


@pytest.mark.parametrize("module, shape, fragment", [
    (Conv2d(3, 3, 5), (1, 3, 4, 4), "the dilated kernel is larger than the padded input (4, 4)"),
    (Conv2d(3, 3, 3, dilation=3), (1, 3, 6, 9), "the dilated kernel is larger than the padded input (6, 9)"),
    (Conv2d(3, 3, 5, padding=1), (1, 3, 2, 2), "the dilated kernel is larger than the padded input (4, 4)"),
    (Upsampling(3, 3, 7), (1, 3, 2, 2), "the dilated kernel is larger than the padded upsampled input"),
    (TransposeConv2d(3, 3, 1, padding=2), (1, 3, 3, 3), "gives an empty output (-1, -1)"),
    (NearestUpsampling(scale_factor=0.4), (1, 3, 2, 5), "gives an output of size (0, 2), not in [1, 2147483647]"),
], ids=repr)
def test_input_too_small_for_the_kernel(module, shape, fragment):
    with pytest.raises(ValueError, match=named(module, fragment)):
        module.forward(torch.randn(shape))


FOUR_D = [Conv2d(3, 4, 3), TransposeConv2d(3, 4, 3), Upsampling(3, 4, 3), NearestUpsampling(scale_factor=2),
          MaxPool2d(2), AvgPool2d(3, padding=1)]


@pytest.mark.parametrize("module", FOUR_D, ids=repr)
@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 1, 3, 8, 8)], ids=str)
def test_wrong_input_rank(module, shape):
    with pytest.raises(ValueError, match=named(module, f"expected a 4-D input (N, C, H, W), got shape {shape}")):
        module.forward(torch.randn(shape))


@pytest.mark.parametrize("module", FOUR_D[:3], ids=repr)
def test_wrong_channel_count(module):
    with pytest.raises(ValueError, match=named(module, "expected 3 input channels, got 4 (input shape (2, 4, 8, 8))")):
        module.forward(torch.randn(2, 4, 8, 8))


@pytest.mark.parametrize("module", [*FOUR_D, ReLU(), Sigmoid(), LeakyReLU()], ids=repr)
@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool], ids=str)
def test_integer_input(module, dtype):
    with pytest.raises(TypeError, match=named(module, f"expected a floating point input, got {dtype}")):
        module.forward(torch.ones(1, 3, 8, 8, dtype=dtype))


@pytest.mark.parametrize("module", [*FOUR_D, ReLU(), Sigmoid(), LeakyReLU()], ids=repr)
def test_not_a_tensor(module):
    with pytest.raises(TypeError, match=named(module, "expected a torch.Tensor, got list")):
        module.forward([[1.0, 2.0]])


def test_mse_integer_target_and_shape_mismatch():
    mse = MSE()
    with pytest.raises(TypeError, match=re.escape("MSE(): expected a floating point input, got torch.int64")):
        mse.forward(torch.randn(2, 3), torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=re.escape("MSE(): input shape (2, 3) != target shape (3, 2)")):
        mse.forward(torch.randn(2, 3), torch.randn(3, 2))


@pytest.mark.parametrize("module", FOUR_D[:3], ids=repr)
def test_dtype_mismatch(module):
    with pytest.raises(TypeError, match=named(module, "input is torch.float64 on cpu but the weight is torch.float32 "
                                                      "on cpu; move the module with .to(device, dtype)")):
        module.forward(torch.randn(1, 3, 8, 8, dtype=torch.float64))


ALL = [lambda: Conv2d(3, 4, 3), lambda: TransposeConv2d(3, 4, 3), lambda: Upsampling(3, 4, 3),
       lambda: NearestUpsampling(scale_factor=2), ReLU, Sigmoid, LeakyReLU, lambda: MaxPool2d(2),
       lambda: AvgPool2d(3, stride=2, padding=1), lambda: Sequential(Conv2d(3, 4, 3), ReLU())]


@pytest.mark.parametrize("make", [*ALL, MSE], ids=lambda make: repr(make()))
def test_backward_before_forward(make):
    module = make()
    last = module[len(module) - 1] if isinstance(module, Sequential) else module
    with pytest.raises(RuntimeError, match=named(last, "backward called before forward")):
        module.backward(torch.ones(1, 4, 6, 6))


@pytest.mark.parametrize("make", ALL, ids=lambda make: repr(make()))
def test_backward_after_an_inference_pass(make):
    """A forward under inference() keeps nothing: backward refuses, even after an earlier
    training forward whose values would give another input's gradient."""
    module = make()
    x = torch.randn(1, 3, 8, 8)
    y = module.forward(x)
    with inference():
        assert torch.equal(module.forward(x), y)
    last = module[len(module) - 1] if isinstance(module, Sequential) else module
    with pytest.raises(RuntimeError, match=named(last, "backward called before forward")):
        module.backward(torch.ones_like(y))


@pytest.mark.parametrize("make", ALL, ids=lambda make: repr(make()))
@pytest.mark.parametrize("change", [(0, 1), (1, 1), (3, -1)], ids=["batch+1", "channels+1", "width-1"])
def test_grad_output_of_the_wrong_shape(make, change):
    module = make()
    y = module.forward(torch.randn(2, 3, 8, 8))
    shape = list(y.shape)
    shape[change[0]] += change[1]
    last = module[len(module) - 1] if isinstance(module, Sequential) else module
    with pytest.raises(ValueError, match=named(last, f"grad_output has shape {tuple(shape)}, expected {tuple(y.shape)}")):
        module.backward(torch.randn(shape))


def test_grad_output_that_would_broadcast_is_still_refused():
    relu = ReLU()
    y = relu.forward(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=named(relu, "grad_output has shape (3, 4, 4), expected (2, 3, 4, 4)")):
        relu.backward(torch.randn(y.shape[1:]))


@pytest.mark.parametrize("reduction, shape", [("none", (2, 3)), ("mean", (2, 3, 4)), ("sum", (3,))])
def test_mse_grad_output_of_the_wrong_shape(reduction, shape):
    mse = MSE(reduction)
    loss = mse.forward(torch.randn(2, 3, 4), torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match=named(mse, f"grad_output has shape {shape}, expected {tuple(loss.shape)}")):
        mse.backward(torch.randn(shape))


@pytest.mark.parametrize("build, error, message", [
    (lambda p: SGD(p, lr=-0.1), ValueError, "SGD: lr must be a number in [0, inf], got -0.1"),
    (lambda p: SGD(p, momentum=-0.5), ValueError, "SGD: momentum must be a number in [0, inf], got -0.5"),
    (lambda p: SGD(p, weight_decay=-1), ValueError, "SGD: weight_decay must be a number in [0, inf], got -1"),
    (lambda p: SGD(p, nesterov=True), ValueError, "SGD: nesterov requires momentum > 0 and dampening = 0, got momentum=0"),
    (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "got momentum=0.9, dampening=0.1"),
    (lambda p: Adam(p, lr=-1), ValueError, "Adam: lr must be a number in [0, inf], got -1"),
    (lambda p: Adam(p, lr="fast"), ValueError, "Adam: lr must be a number in [0, inf], got 'fast'"),
    (lambda p: Adam(p, eps="1e-8"), ValueError, "Adam: eps must be a number in [0, inf], got '1e-8'"),
    (lambda p: Adam(p, lr=float("nan")), ValueError, "Adam: lr must be a number in [0, inf], got nan"),
    (lambda p: Adam(p, betas=0.9), ValueError, "Adam: betas must be a pair of numbers in [0, 1), got 0.9"),
    (lambda p: SGD(p, lr=float("inf")), ValueError, "SGD: lr must be a number in [0, inf], got inf"),
    (lambda p: Adam(p, betas=(0.9, 1.0)), ValueError, "Adam: each of betas must be a number in [0, 1), got 1.0"),
    (lambda p: SGD([t for t, _ in p]), TypeError, "SGD: params[0] must be a (tensor, grad) pair, got Tensor"),
    (lambda p: Adam([]), ValueError, "Adam: got an empty parameter list"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_optimizer_arguments(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build(Conv2d(3, 4, 3).param())


def test_load_state_dict_strict_names_missing_and_unexpected_keys():
    net = Sequential(Conv2d(3, 4, 3), ReLU(), Conv2d(4, 2, 1))
    state = dict(net.state_dict())
    del state["0.bias"]
    with pytest.raises(KeyError, match=re.escape("Sequential: missing keys ['0.bias'], unexpected keys []")):
        net.load_state_dict(state)
    state = {**net.state_dict(), "1.weight": torch.zeros(1)}
    with pytest.raises(KeyError, match=re.escape("missing keys [], unexpected keys ['1.weight']")):
        net.load_state_dict(state)


def test_load_state_dict_names_the_key_of_a_wrong_shape():
    net = Sequential(Conv2d(3, 4, 3), ReLU(), Conv2d(4, 2, 1))
    state = {**net.state_dict(), "2.weight": torch.zeros(2, 4, 3, 3)}
    with pytest.raises(ValueError, match=re.escape("Sequential: '2.weight' has shape (2, 4, 3, 3) in the "
                                                   "checkpoint but (2, 4, 1, 1) in the model")):
        net.load_state_dict(state, strict=False)
