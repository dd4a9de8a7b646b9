"""Skip connections (Residual, SkipConcat) and the U-Net built from them, against torch.autograd.

Property-based over batch, channels, sizes (odd ones where the branch allows), the branch
inside, and the memory layouts of the input and of the upstream gradient; then nesting
(a U-Net of every depth and both skip types), parameter gradients accumulating over two
backward passes, and the refused branches.
"""
import pytest
import torch
from hypothesis import given, strategies as st

from helpers import LAYOUTS, check_against_autograd, twin
from Miniproject_2.others import (Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling, Residual, Sequential,
                                  SkipConcat)
from Miniproject_2.others.layers.join import ConcatJoin
from Miniproject_2.others.denoisers.unet import build_unet, unet_stride

pytestmark = pytest.mark.usefixtures("one_thread")

layouts = st.sampled_from(LAYOUTS)
seeds = st.integers(0, 2**31 - 1)


@given(batch=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 7), w=st.integers(1, 7),
       kernel=st.sampled_from([1, 3]), layout=layouts, grad_layout=layouts, seed=seeds)
def test_residual_matches_autograd(batch, c, h, w, kernel, layout, grad_layout, seed):
    torch.manual_seed(seed)
    module = Residual(Sequential(Conv2d(c, c, kernel, padding=kernel // 2), LeakyReLU(0.1)))
    check_against_autograd(module, torch.randn(batch, c, h, w), layout, grad_layout)


@given(batch=st.integers(1, 3), c=st.integers(1, 4), c_inner=st.integers(1, 4), h=st.integers(1, 4),
       w=st.integers(1, 4), pooled=st.booleans(), layout=layouts, grad_layout=layouts, seed=seeds)
def test_skip_concat_matches_autograd(batch, c, c_inner, h, w, pooled, layout, grad_layout, seed):
    """The branch keeps the size directly, or pools and upsamples back (even sizes)."""
    torch.manual_seed(seed)
    conv = Conv2d(c, c_inner, 3, padding=1)
    inner = Sequential(MaxPool2d(2), conv, NearestUpsampling(scale_factor=2)) if pooled else conv
    size = (2 * h, 2 * w) if pooled else (h, w)
    check_against_autograd(SkipConcat(inner), torch.randn(batch, c, *size), layout, grad_layout)


@pytest.mark.parametrize("channels, skip", [((3,), "concat"), ((4, 5), "concat"), ((3, 4, 2), "concat"),
                                            ((2, 3, 4, 3), "concat"), ((4, 4, 4), "add")])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_unet_of_every_depth_matches_autograd(channels, skip, layout):
    torch.manual_seed(0)
    size = 2 * unet_stride(len(channels))
    check_against_autograd(build_unet(channels, skip), torch.randn(2, 3, size, size + unet_stride(len(channels))),
                           layout, layout)


def test_parameter_gradients_accumulate_through_both_paths():
    torch.manual_seed(0)
    module = SkipConcat(Residual(Conv2d(2, 2, 3, padding=1)))
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    module.to(torch.float64)
    reference = twin(module)
    for _ in range(2):
        y = module.forward(x)
        grad = torch.randn(y.shape, dtype=torch.float64)
        module.backward(grad)
        reference(x).backward(grad)
    for name, _, grad in module.named_param():
        torch.testing.assert_close(grad, dict(reference.named_parameters())[name].grad)


def test_backward_before_forward_fails_loudly():
    for module in (Residual(LeakyReLU()), SkipConcat(LeakyReLU())):
        with pytest.raises(RuntimeError, match="backward called before forward"):
            module.backward(torch.randn(1, 2, 3, 3))


def test_branches_that_change_the_shape_are_refused():
    with pytest.raises(ValueError, match="must keep the shape"):
        Residual(Conv2d(2, 3, 1)).forward(torch.randn(1, 2, 4, 4))
    with pytest.raises(ValueError, match="must keep the batch, height and width"):
        SkipConcat(MaxPool2d(2)).forward(torch.randn(1, 2, 4, 4))
    with pytest.raises(TypeError, match="not a Module"):
        Residual(lambda x: x)


def test_state_dict_names_match_torch_nn():
    module = build_unet((4, 5, 6))
    assert list(module.state_dict()) == list(twin(module).state_dict())
    assert "inner.4.0.inner.1.weight" in module.state_dict()


def test_unet_refuses_bad_arguments():
    with pytest.raises(ValueError, match="skip must be one of"):
        build_unet((4, 4), skip="sum")
    with pytest.raises(ValueError, match="widths must be equal"):
        build_unet((4, 5), skip="add")


@given(batch=st.integers(1, 3), c=st.integers(1, 4), c_inner=st.integers(1, 4), c_out=st.integers(1, 4),
       h=st.integers(1, 4), w=st.integers(1, 4), scale=st.sampled_from([2, 3]), kernel=st.sampled_from([1, 3]),
       layout=layouts, grad_layout=layouts, seed=seeds)
def test_concat_join_matches_autograd(batch, c, c_inner, c_out, h, w, scale, kernel, layout, grad_layout, seed):
    """The concatenation and the convolution after it as one step, then more layers."""
    torch.manual_seed(seed)
    inner = Sequential(MaxPool2d(scale), Conv2d(c, c_inner, 3, padding=1), LeakyReLU(0.1),
                       NearestUpsampling(scale_factor=scale))
    module = ConcatJoin(SkipConcat(inner), Conv2d(c + c_inner, c_out, kernel, padding=kernel // 2),
                        LeakyReLU(0.1), Conv2d(c_out, 2, 3, padding=1))
    check_against_autograd(module, torch.randn(batch, c, scale * h, scale * w), layout, grad_layout)


def test_concat_join_is_the_plain_sequential_of_the_same_modules():
    torch.manual_seed(0)
    inner = Sequential(MaxPool2d(2), Conv2d(3, 4, 3, padding=1), NearestUpsampling(scale_factor=2))
    modules = (SkipConcat(inner), Conv2d(7, 5, 3, padding=1), LeakyReLU(0.1))
    joined, plain = ConcatJoin(*modules), Sequential(*modules)
    assert joined.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    joined.to(torch.float64)
    y = joined.forward(x)
    assert y.permute(0, 2, 3, 1).is_contiguous()
    grad = torch.randn(y.shape, dtype=torch.float64)
    grad_x = joined.backward(grad)
    grads = [g.clone() for _, g in joined.param()]
    joined.zero_grad()
    torch.testing.assert_close(y, plain.forward(x))
    torch.testing.assert_close(grad_x, plain.backward(grad))
    for ours, theirs in zip(grads, (g for _, g in plain.param())):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("modules, message", [
    (lambda: (Conv2d(2, 2, 1), Conv2d(2, 2, 1)), "expected SkipConcat"),
    (lambda: (SkipConcat(Conv2d(2, 2, 1)), Conv2d(4, 2, 1)), "expected SkipConcat"),
    (lambda: (SkipConcat(Sequential(MaxPool2d(2), NearestUpsampling(scale_factor=1.5))), Conv2d(4, 2, 1)),
     "integer scale_factor"),
    (lambda: (SkipConcat(Sequential(MaxPool2d(2), NearestUpsampling(scale_factor=2))), Conv2d(4, 2, 3, stride=2)),
     "stride-1"),
])
def test_concat_join_refuses_what_it_cannot_fuse(modules, message):
    with pytest.raises(ValueError, match=message):
        ConcatJoin(*modules())


def test_concat_join_refuses_a_branch_of_another_size_or_width():
    inner = Sequential(MaxPool2d(2), NearestUpsampling(scale_factor=2))
    with pytest.raises(ValueError, match="does not match the input's size"):
        ConcatJoin(SkipConcat(inner), Conv2d(4, 2, 3, padding=1)).forward(torch.randn(1, 2, 5, 4))
    with pytest.raises(ValueError, match="channels"):
        ConcatJoin(SkipConcat(inner), Conv2d(5, 2, 3, padding=1)).forward(torch.randn(1, 2, 4, 4))
