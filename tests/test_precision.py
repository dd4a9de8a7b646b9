"""Mixed precision (bf16): every convolution layer within a derived bound of float64 autograd,
training steps that track float32's, and the ``precision`` setting from Model to checkpoint.

The bound (``helpers.bf16_bound``): each product's operands and result are rounded to
bfloat16 (relative error ``2**-8`` each) and summed in float32, so every output, input
gradient and parameter gradient is within about ``3 * 2**-8 = 1.2%`` of ``sum |a| |b|`` over
its reduction, which the same network computes exactly on the magnitudes.
"""
from unittest import mock

import pytest
import torch
from hypothesis import given, strategies as st

from helpers import LAYOUTS, bf16_bound, check_bf16_against_autograd, report
from Miniproject_2.model import Model
from Miniproject_2.others.kernels import conv_kernels
from Miniproject_2.others import Conv2d, NearestUpsampling, Sequential, SkipConcat, TransposeConv2d, Upsampling
from Miniproject_2.others.layers.join import ConcatJoin
from Miniproject_2.others.kernels.precision import PICTURE_CHANNELS, PRECISIONS, set_precision
from test_layers import conv_cases, drawn_layer, transpose_cases, upsampling_cases

pytestmark = pytest.mark.usefixtures("one_thread")

seeds = st.integers(0, 2**31 - 1)
channels = st.integers(1, 5)
#: The largest error-to-bound ratio seen per layer, for the run's report.
WORST = {}


@pytest.fixture(scope="module", autouse=True)
def _report_worst():
    yield
    report("mixed precision: largest error / derived bf16 bound, per layer",
           [f"{name}: {ratio:.3f}" for name, ratio in sorted(WORST.items())])


def _record(name, ratio):
    WORST[name] = max(WORST.get(name, 0.0), ratio)


@pytest.mark.parametrize("module, cases", [(Conv2d, conv_cases()), (TransposeConv2d, transpose_cases()),
                                           (Upsampling, upsampling_cases())],
                         ids=["Conv2d", "TransposeConv2d", "Upsampling"])
@given(data=st.data(), batch=st.integers(1, 3), cin=channels, cout=channels, bias=st.booleans(),
       layout=st.sampled_from(LAYOUTS), grad_layout=st.sampled_from(LAYOUTS),
       block_bytes=st.one_of(st.integers(1, 3000), st.just(1 << 30)), seed=seeds)
def test_bf16_convolutions_are_within_the_bound(module, cases, data, batch, cin, cout, bias, layout, grad_layout,
                                                block_bytes, seed):
    """Forward, input gradient and parameter gradients of every convolution layer, in every
    product order its stride allows and any im2col block size."""
    layer, size = drawn_layer(module, cases, data, cin, cout, bias, seed)
    with mock.patch.object(conv_kernels, "BLOCK_BYTES", block_bytes):
        _record(module.__name__, check_bf16_against_autograd(layer, torch.randn(batch, cin, *size) * 3,
                                                             layout=layout, grad_layout=grad_layout))


@given(batch=st.integers(1, 2), c=channels, c_inner=channels, c_out=channels, kernel=st.sampled_from([1, 3]),
       half=st.tuples(st.integers(1, 4), st.integers(1, 4)), seed=seeds)
def test_bf16_concat_join_is_within_the_bound(batch, c, c_inner, c_out, kernel, half, seed):
    """The U-Net's fused join: a convolution of the input beside a strided one whose output is
    upsampled, concatenated and convolved (two products in a chain)."""
    torch.manual_seed(seed)
    inner = Sequential(Conv2d(c, c_inner, 2, stride=2), NearestUpsampling(scale_factor=2))
    join = ConcatJoin(SkipConcat(inner), Conv2d(c + c_inner, c_out, kernel, padding=kernel // 2))
    _record("ConcatJoin", check_bf16_against_autograd(join, torch.randn(batch, c, 2 * half[0], 2 * half[1]),
                                                      depth=2))


def test_the_bound_is_about_three_bfloat16_roundings():
    assert 3 * 2.0 ** -8 < bf16_bound(1) < 3.1 * 2.0 ** -8
    assert bf16_bound(100, depth=2) > 2 * bf16_bound(100)


def test_bf16_rounds_what_fp32_does_not():
    """The products really run in bfloat16: the same layer's fp32 and bf16 outputs differ,
    by less than the bound."""
    torch.manual_seed(0)
    conv, x = Conv2d(8, 8, 3, padding=1), torch.randn(2, 8, 9, 9).contiguous(memory_format=torch.channels_last)
    exact = conv.forward(x)
    set_precision(conv, "bf16")
    mixed = conv.forward(x)
    assert mixed.dtype == torch.float32 and mixed.shape == exact.shape
    assert not torch.equal(mixed, exact)
    assert (mixed - exact).abs().max() < 0.02 * exact.abs().max()
    set_precision(conv, "fp32")
    assert torch.equal(conv.forward(x), exact)


def _training_losses(precision, steps, pictures, targets):
    torch.manual_seed(0)
    model = Model(arch="deep", channels=(8, 8), batch_size=4, precision=precision)
    losses = []
    for start in range(0, steps * 4, 4):
        model.optimizer.zero_grad()
        losses.append(model._forward_backward(pictures, targets, list(range(start % 16, start % 16 + 4)), 0))
        model.optimizer.step()
    return losses, model


#: Training parity: 30 Adam steps (lr 1e-3) of a small U-Net on noisy pictures, each
#: step's loss in bf16 within this share of fp32's.
PARITY = 0.005


def test_bf16_training_tracks_fp32():
    generator = torch.Generator().manual_seed(3)
    clean = torch.rand(16, 3, 1, 1, generator=generator).expand(16, 3, 16, 16) * 200 + 20
    noisy = [(clean + torch.randn(16, 3, 16, 16, generator=generator) * 25).clamp(0, 255).round().to(torch.uint8)
             for _ in range(2)]
    fp32, _ = _training_losses("fp32", 30, *noisy)
    bf16, model = _training_losses("bf16", 30, *noisy)
    gaps = [abs(b - f) / f for f, b in zip(fp32, bf16)]
    report("mixed precision: training parity, 30 steps of a small U-Net",
           [f"loss fp32 {fp32[0]:.5f} -> {fp32[-1]:.5f}, bf16 {bf16[0]:.5f} -> {bf16[-1]:.5f}, "
            f"largest gap {max(gaps):.2%} (allowed {PARITY:.0%})"])
    assert fp32[-1] < 0.8 * fp32[0], "the run must learn for the comparison to mean anything"
    assert max(gaps) <= PARITY
    assert all(tensor.dtype == torch.float32 for tensor, _ in model.net.param())
    assert all(grad.dtype == torch.float32 for _, grad in model.net.param())


def _convolutions(net):
    return [module for module in net.modules() if hasattr(module, "compute_dtype")]


@pytest.mark.parametrize("arch", ["simple", "deep"])
def test_precision_reaches_every_convolution_but_the_one_reading_the_picture(arch):
    assert all(conv.compute_dtype is None for conv in _convolutions(Model(arch=arch).net))
    convs = _convolutions(Model(arch=arch, precision="bf16").net)
    facing = [conv for conv in convs if conv.in_channels <= PICTURE_CHANNELS]
    assert len(facing) == 1, "the first convolution reads the picture"
    assert all(conv.compute_dtype is None for conv in facing)
    assert all(conv.compute_dtype is torch.bfloat16 for conv in convs if conv not in facing)


@pytest.mark.parametrize("bad", ["fp16", "BF16", None, 16, "auto"])
def test_unknown_precision_is_refused(bad):
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16'\)"):
        Model(precision=bad)


@pytest.mark.parametrize("saved, loading", [("bf16", "fp32"), ("fp32", "bf16")])
def test_checkpoints_hold_float32_and_load_under_either_precision(tmp_path, saved, loading):
    torch.manual_seed(0)
    writer = Model(arch="deep", channels=(8, 8), precision=saved)
    writer.save_model(tmp_path / "model.pkl")
    reader = Model(arch="deep", channels=(8, 8), precision=loading)
    reader.load_model(tmp_path / "model.pkl")
    assert reader.config["precision"] == loading
    fresh = Model(arch="deep", channels=(8, 8), precision=loading)
    assert [conv.compute_dtype for conv in _convolutions(reader.net)] == \
        [conv.compute_dtype for conv in _convolutions(fresh.net)]
    assert (torch.bfloat16 in [conv.compute_dtype for conv in _convolutions(reader.net)]) == (loading == "bf16")
    for key, tensor in writer.net.state_dict().items():
        assert tensor.dtype == torch.float32 and torch.equal(reader.net.state_dict()[key], tensor)


def test_checkpoints_written_before_mixed_precision_load(tmp_path):
    from Miniproject_2.others.plumbing import checkpoint
    model = Model(arch="deep", channels=(8, 8))
    model.save_model(tmp_path / "model.pkl")
    saved = torch.load(tmp_path / "model.pkl", weights_only=True)
    del saved["config"]["precision"]
    checkpoint.save({key: value for key, value in saved.items() if key != "format"}, tmp_path / "old.pkl")
    Model(arch="deep", channels=(8, 8), precision="bf16").load_model(tmp_path / "old.pkl")


@pytest.mark.parametrize("precision", PRECISIONS)
def test_predict_in_either_precision_is_close(precision):
    generator = torch.Generator().manual_seed(1)
    pictures = (torch.rand(2, 3, 24, 20, generator=generator) * 255).round().to(torch.uint8)
    torch.manual_seed(0)
    reference = Model(arch="deep", channels=(8, 8)).predict(pictures)
    torch.manual_seed(0)
    result = Model(arch="deep", channels=(8, 8), precision=precision).predict(pictures)
    assert result.dtype == torch.float32
    assert (result - reference).abs().max() <= (0 if precision == "fp32" else 2.0)
