"""A convolution followed by an activation runs as one step in a Sequential (``run_chain``):
the activation is applied in place to each block of the convolution's output. The numbers
and the gradients must be exactly those of the two modules run one after the other, in every
precision, layout and product order, and a chain that cannot fuse must run as before."""
import pytest
import torch

from helpers import as_layout
from Miniproject_2.others import Conv2d, LeakyReLU, ReLU, Sequential, Sigmoid, Upsampling
from Miniproject_2.others.denoisers.unet import build_unet
from Miniproject_2.others.kernels.precision import set_precision

CHAINS = {
    "conv, leaky": lambda: [Conv2d(6, 8, 3, padding=1), LeakyReLU(0.1)],
    "conv stride 2, relu": lambda: [Conv2d(6, 8, 3, stride=2, padding=1), ReLU()],
    "upsampling, relu": lambda: [Upsampling(6, 8, 3, padding=1), ReLU()],
    "conv, leaky slope 1": lambda: [Conv2d(6, 8, 3, padding=1), LeakyReLU(1.0)],
    # Not fusable: slopes outside (0, 1] need the input for backward.
    "conv, leaky slope -0.5": lambda: [Conv2d(6, 8, 3, padding=1), LeakyReLU(-0.5)],
    "conv, sigmoid, conv, leaky": lambda: [Conv2d(6, 6, 3, padding=1), Sigmoid(), Conv2d(6, 8, 1), LeakyReLU(0.2)],
}


def one_by_one(modules, x, upstream):
    for module in modules:
        x = module.forward(x)
    out, grad = x, upstream
    for module in reversed(modules):
        grad = module.backward(grad)
    return out, grad, [g.clone() for m in modules for _, g in m.param()]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("algorithm", ["auto", "multiply_first"])
@pytest.mark.parametrize("chain", CHAINS)
def test_a_fused_chain_gives_the_numbers_and_gradients_of_its_modules_one_by_one(chain, algorithm, precision, layout):
    torch.manual_seed(0)
    modules = CHAINS[chain]()
    for module in modules:
        if hasattr(module, "algorithm") and not (algorithm == "multiply_first" and module.stride != (1, 1)):
            module.algorithm = algorithm
    fused = set_precision(Sequential(*modules), precision)
    x = as_layout(torch.randn(2, 6, 9, 11), layout)
    x[0, 0, 0, :3] = torch.tensor([0.0, -0.0, float("nan")])
    upstream = torch.randn(fused.forward(x).shape)
    fused.zero_grad()
    expected, expected_grad, expected_params = one_by_one(modules, x, upstream)
    fused.zero_grad()
    out = fused.forward(x)
    grad = fused.backward(upstream)
    torch.testing.assert_close(out, expected, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=0, equal_nan=True)
    for got, want in zip((g for _, g in fused.param()), expected_params):
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_unet_with_its_joins_fused_equals_its_modules_one_by_one(precision):
    """The U-Net's levels and joins (ConcatJoin's activation after its convolution included)."""
    from Miniproject_2.others.layers import sequential

    torch.manual_seed(0)
    net = set_precision(build_unet((4, 6, 8)), precision)
    x = torch.rand(2, 3, 16, 12)
    upstream = torch.randn(2, 3, 16, 12)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LeakyReLU, "forward", lambda self, x: pytest.fail("an activation ran on its own"))
        out = net.forward(x)
    grad = net.backward(upstream)
    params = [g.clone() for _, g in net.param()]
    net.zero_grad()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sequential, "in_place", lambda module: False)
        unfused = net.forward(x)
        unfused_grad = net.backward(upstream)
    torch.testing.assert_close(out, unfused, rtol=0, atol=0)
    torch.testing.assert_close(grad, unfused_grad, rtol=0, atol=0)
    for got, (_, want) in zip(params, net.param()):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
