"""Module behaviour that users of torch.nn rely on: constructor signatures and defaults,
weight shapes and initialisation, repr, state_dict names, in-place loading, ``to``,
output memory layout, float32 and float64."""
import inspect
import math

import pytest
import torch

import torch.nn.functional as F

from helpers import as_layout
from Miniproject_2.others.layers.parameter import Parameter
from Miniproject_2.others import (MSE, SGD, Adam, AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling,
                                  ReLU, Sequential, Sigmoid, TransposeConv2d, Upsampling)

pytestmark = pytest.mark.usefixtures("one_thread")


def parameters(callable_):
    return [(p.name, p.default, p.kind) for p in inspect.signature(callable_).parameters.values()]


@pytest.mark.parametrize("ours, theirs", [
    (Conv2d, torch.nn.Conv2d), (TransposeConv2d, torch.nn.ConvTranspose2d),
    (NearestUpsampling, torch.nn.UpsamplingNearest2d), (LeakyReLU, torch.nn.LeakyReLU),
    (MaxPool2d, torch.nn.MaxPool2d), (AvgPool2d, torch.nn.AvgPool2d),
], ids=lambda cls: cls.__name__)
def test_constructor_signature_is_torchs(ours, theirs):
    assert parameters(ours) == parameters(theirs)


def test_upsampling_signature_is_conv2d_plus_scale_factor():
    assert parameters(Upsampling) == parameters(torch.nn.Conv2d) + [
        ("scale_factor", 2, inspect.Parameter.POSITIONAL_OR_KEYWORD)]


def test_mse_takes_torchs_reduction_argument():
    assert parameters(MSE) == [p for p in parameters(torch.nn.MSELoss) if p[0] == "reduction"]


@pytest.mark.parametrize("ours, theirs", [(SGD, torch.optim.SGD), (Adam, torch.optim.Adam)],
                         ids=lambda cls: cls.__name__)
def test_optimizer_arguments_are_torchs(ours, theirs):
    """Same names, defaults and kinds; positional arguments in torch's order."""
    theirs_by_name = {name: (default, kind) for name, default, kind in parameters(theirs)}
    for name, default, kind in parameters(ours):
        assert theirs_by_name.get(name) == (default, kind), name
    positional = [p[0] for p in parameters(ours) if p[2] == inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional == [p[0] for p in parameters(theirs)][:len(positional)]


LAYERS = [  # our layer, the torch layer with the same weight shape and initialisation
    (lambda: Conv2d(3, 8, (3, 5)), lambda: torch.nn.Conv2d(3, 8, (3, 5))),
    (lambda: Conv2d(64, 64, 3), lambda: torch.nn.Conv2d(64, 64, 3)),
    (lambda: TransposeConv2d(3, 8, (3, 5)), lambda: torch.nn.ConvTranspose2d(3, 8, (3, 5))),
    (lambda: TransposeConv2d(64, 32, 3, stride=2), lambda: torch.nn.ConvTranspose2d(64, 32, 3, stride=2)),
    (lambda: Upsampling(64, 48, 3), lambda: torch.nn.Conv2d(64, 48, 3)),
]


@pytest.mark.parametrize("ours, theirs", LAYERS, ids=lambda make: repr(make()))
def test_parameter_shapes_and_initialisation_bounds_are_torchs(ours, theirs):
    module, reference = ours(), theirs()
    assert [(n, t.shape) for n, t in module.state_dict().items()] == \
           [(n, t.shape) for n, t in reference.state_dict().items()]
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(reference.weight)
    bound = 1 / math.sqrt(fan_in)
    for name, tensor in module.state_dict().items():
        assert tensor.abs().max() <= bound, name
    weights = module.weight.flatten()
    if weights.numel() >= 10_000:
        # Kolmogorov-Smirnov distance to U(-bound, bound): ~0.005 for a true uniform sample.
        quantiles = ((weights.sort().values + bound) / (2 * bound)).double()
        ideal = torch.arange(1, weights.numel() + 1, dtype=torch.float64) / weights.numel()
        assert (quantiles - ideal).abs().max() < 0.02
        assert weights.abs().max() > 0.99 * bound


def test_initialisation_follows_torchs_global_generator():
    torch.manual_seed(3)
    first = Conv2d(3, 4, 3).state_dict()
    torch.manual_seed(3)
    second = Conv2d(3, 4, 3).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_bias_false_has_no_bias_parameter():
    for module in (Conv2d(3, 4, 3, bias=False), TransposeConv2d(3, 4, 3, bias=False), Upsampling(3, 4, 3, bias=False)):
        assert module.bias is None
        assert list(module.state_dict()) == ["weight"]
        assert len(module.param()) == 1


@pytest.mark.parametrize("ours, theirs", [
    (Conv2d(3, 8, 3), torch.nn.Conv2d(3, 8, 3)),
    (Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=2, bias=False),
     torch.nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, dilation=2, bias=False)),
    (TransposeConv2d(3, 8, 3), torch.nn.ConvTranspose2d(3, 8, 3)),
    (TransposeConv2d(3, 8, 3, stride=2, padding=1, output_padding=1, dilation=2, bias=False),
     torch.nn.ConvTranspose2d(3, 8, 3, stride=2, padding=1, output_padding=1, dilation=2, bias=False)),
    (ReLU(), torch.nn.ReLU()), (Sigmoid(), torch.nn.Sigmoid()), (MSE(), torch.nn.MSELoss()),
    (Sequential(Conv2d(3, 4, 3), ReLU(), Sequential(TransposeConv2d(4, 3, 2, stride=2), Sigmoid())),
     torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                         torch.nn.Sequential(torch.nn.ConvTranspose2d(4, 3, 2, stride=2), torch.nn.Sigmoid()))),
], ids=lambda m: type(m).__name__)
def test_repr_is_torchs(ours, theirs):
    renamed = repr(theirs).replace("ConvTranspose2d", "TransposeConv2d").replace("MSELoss", "MSE")
    assert repr(ours) == renamed


def torch_pair():
    """The same network in our framework and in torch.nn, nested like torch's."""
    ours = Sequential(Conv2d(3, 4, 3, padding=1), ReLU(), TransposeConv2d(4, 5, 2, stride=2),
                      Sequential(Conv2d(5, 2, 1, bias=False), Sigmoid()))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.ConvTranspose2d(4, 5, 2, stride=2),
                                 torch.nn.Sequential(torch.nn.Conv2d(5, 2, 1, bias=False), torch.nn.Sigmoid()))
    return ours, theirs


def test_sequential_state_dict_is_torchs_and_loads_both_ways():
    ours, theirs = torch_pair()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
           [(k, v.shape) for k, v in theirs.state_dict().items()]
    x = torch.randn(2, 3, 5, 6)
    theirs.load_state_dict(ours.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ours.forward(x), theirs(x))
    ours, theirs = torch_pair()
    ours.load_state_dict(theirs.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ours.forward(x), theirs(x))


def test_param_lists_the_state_dict_tensors_in_order():
    ours, _ = torch_pair()
    assert [id(t) for t, _ in ours.param()] == [id(t) for t in ours.state_dict().values()]
    assert all(grad.shape == t.shape and not grad.any() for t, grad in ours.param())


def test_a_parameter_is_a_tensor_with_a_zeroed_gradient():
    data = torch.randn(2, 3, dtype=torch.float64)
    parameter = Parameter(data)
    assert parameter.data is data and parameter.shape == data.shape
    assert parameter.grad.shape == data.shape and parameter.grad.dtype == data.dtype
    assert not parameter.grad.any() and parameter.grad.data_ptr() != data.data_ptr()
    assert repr(parameter) == f"Parameter containing:\n{data!r}"
    assert parameter.to(torch.float32) is parameter and parameter.data is data
    assert data.dtype == parameter.grad.dtype == torch.float32


def test_parameters_are_the_module_attributes_and_the_param_pairs():
    """``conv.weight`` stays the plain tensor (what the grader passes to F.conv2d); the
    Parameter holds it with its gradient, and param() pairs are the Parameters' tensors."""
    conv = Conv2d(3, 4, 3, padding=1)
    named = conv.named_parameters()
    assert [name for name, _ in named] == ["weight", "bias"]
    assert all(isinstance(p, Parameter) for _, p in named)
    assert named[0][1].data is conv.weight and named[1][1].data is conv.bias
    assert type(conv.weight) is torch.Tensor and not conv.weight.requires_grad
    assert [(id(t), id(g)) for t, g in conv.param()] == [(id(p.data), id(p.grad)) for _, p in named]
    x = torch.randn(2, 3, 5, 6)
    assert torch.allclose(F.conv2d(x, conv.weight, conv.bias, padding=1), conv.forward(x))


def test_a_parameter_accumulates_gradients_until_zero_grad():
    ours, _ = torch_pair()
    x = torch.randn(2, 3, 4, 4)
    grad_output = torch.randn(ours.forward(x).shape)
    ours.backward(grad_output)
    once = {name: p.grad.clone() for name, p in ours.named_parameters()}
    assert all(g.any() for g in once.values())
    ours.forward(x)
    ours.backward(grad_output)
    assert all(torch.allclose(p.grad, 2 * once[name]) for name, p in ours.named_parameters())
    ours.zero_grad()
    assert not any(p.grad.any() for _, p in ours.named_parameters())


def test_nested_parameters_are_named_as_in_the_state_dict():
    ours, _ = torch_pair()
    assert [name for name, _ in ours.named_parameters()] == list(ours.state_dict())
    assert all(p.data is t for (_, p), t in zip(ours.named_parameters(), ours.state_dict().values()))


def test_load_state_dict_copies_in_place():
    ours, _ = torch_pair()
    other, _ = torch_pair()
    live = ours.state_dict()
    held = ours[0].weight
    missing, unexpected = ours.load_state_dict(other.state_dict())
    assert (missing, unexpected) == ([], [])
    assert ours[0].weight is held
    for name, tensor in ours.state_dict().items():
        assert tensor is live[name]
        assert torch.equal(tensor, other.state_dict()[name])
        assert tensor is not other.state_dict()[name]


def test_load_state_dict_not_strict_reports_missing_and_unexpected_keys():
    ours, _ = torch_pair()
    state = dict(ours.state_dict())
    del state["0.bias"]
    state["9.weight"] = torch.zeros(1)
    assert ours.load_state_dict(state, strict=False) == (["0.bias"], ["9.weight"])


def test_load_state_dict_keeps_the_module_dtype():
    ours, _ = torch_pair()
    ours.load_state_dict({k: v.double() for k, v in ours.state_dict().items()})
    assert all(t.dtype == torch.float32 for t, _ in ours.param())


@pytest.mark.parametrize("move", [lambda m: m.to(dtype=torch.float64), lambda m: m.to(torch.float64),
                                  lambda m: m.to("cpu", torch.float64)],
                         ids=["keyword", "positional", "device and dtype"])
def test_to_moves_the_same_tensor_objects(move):
    ours, _ = torch_pair()
    pairs = ours.param()
    optimizer = SGD(pairs, lr=0.1)
    assert move(ours) is ours
    assert [(id(t), id(g)) for t, g in ours.param()] == [(id(t), id(g)) for t, g in pairs]
    assert all(t.dtype == g.dtype == torch.float64 for t, g in ours.param())
    before = ours[0].weight.clone()
    y = ours.forward(torch.randn(1, 3, 4, 4, dtype=torch.float64))
    ours.backward(torch.ones_like(y))
    optimizer.step()
    assert not torch.equal(ours[0].weight, before), "an optimizer made before .to() no longer updates"


def test_constructor_device_and_dtype_like_torch():
    for module in (Conv2d(3, 4, 3, dtype=torch.float64, device="cpu"), TransposeConv2d(3, 4, 3, dtype=torch.float64),
                   Upsampling(3, 4, 3, dtype=torch.float64)):
        assert all(t.dtype == g.dtype == torch.float64 for t, g in module.param())


MODULES = [
    lambda: Conv2d(3, 4, 3, padding=1), lambda: Conv2d(3, 4, 2, stride=2), lambda: TransposeConv2d(3, 4, 2, stride=2),
    lambda: Conv2d(3, 2, 3, padding=1, bias=False), lambda: TransposeConv2d(3, 4, 3, padding=1, bias=False),
    lambda: Upsampling(3, 4, 3, padding=1), lambda: NearestUpsampling(scale_factor=2),
    lambda: NearestUpsampling(size=(5, 7)), ReLU, Sigmoid, LeakyReLU, lambda: MaxPool2d(2),
    lambda: MaxPool2d(3, stride=1, padding=1), lambda: AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    lambda: Sequential(Conv2d(3, 8, 2, stride=2), ReLU(), Upsampling(8, 3, 3, padding=1), Sigmoid()),
]


@pytest.mark.parametrize("make", MODULES, ids=lambda make: repr(make()).replace("\n", ""))
def test_channels_last_in_gives_channels_last_out(make):
    y = make().forward(as_layout(torch.randn(2, 3, 6, 4), "channels_last"))
    assert y.is_contiguous(memory_format=torch.channels_last) and not y.is_contiguous()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("make", MODULES, ids=lambda make: repr(make()).replace("\n", ""))
def test_float32_and_float64(make, dtype):
    module = make().to(dtype=dtype)
    x = torch.randn(2, 3, 6, 4, dtype=dtype)
    y = module.forward(x)
    grad = module.backward(torch.randn(y.shape, dtype=dtype))
    assert y.dtype == grad.dtype == dtype
    assert grad.shape == x.shape
    assert all(t.dtype == g.dtype == dtype for t, g in module.param())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_mse_in_float32_and_float64(dtype):
    mse = MSE()
    x, target = torch.randn(2, 3, 4, 4, dtype=dtype), torch.randn(2, 3, 4, 4, dtype=dtype)
    assert mse.forward(x, target).dtype == mse.backward().dtype == dtype
