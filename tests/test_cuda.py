"""The CUDA path: every layer against autograd on the GPU, models moving between GPU
and CPU through checkpoints, and the scratch buffers kept per device.

Marked ``cuda`` and skipped, with the reason in the summary, when torch sees no GPU
(a CPU-only build, or no device). All but the colour check ran on an H200 in two
sessions (see the README).
"""
import importlib

import pytest
import torch

from helpers import LAYOUTS, TOLERANCE, box_denoiser, check_against_autograd, check_bf16_against_autograd
from Miniproject_2.others import (MSE, AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling, ReLU,
                                  Sequential, Sigmoid, TransposeConv2d, Upsampling)
from Miniproject_2.others.denoisers.network import build_denoiser
from Miniproject_2.others.layers.skip import Residual, SkipConcat
from Miniproject_2.others.denoisers.unet import build_unet
from n2n_nograd.noise import fresh_pairs
from Miniproject_2.others.kernels.scratch import empty_cache, scratch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="needs CUDA: torch.cuda.is_available() is False")]

LAYERS = {
    "conv": lambda: Conv2d(3, 4, 3, stride=2, padding=1, dilation=1),
    "conv-2x2-stride-2": lambda: Conv2d(3, 5, 2, stride=2),
    "conv-dilated": lambda: Conv2d(3, 4, (3, 2), padding=2, dilation=2),
    "transpose": lambda: TransposeConv2d(3, 4, 3, stride=2, padding=1, output_padding=1),
    "upsampling": lambda: Upsampling(3, 4, 3, padding=1, scale_factor=2),
    "nearest": lambda: NearestUpsampling(scale_factor=2),
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "leaky-relu": lambda: LeakyReLU(0.1),
    "max-pool": lambda: MaxPool2d(3, stride=2, padding=1),
    "avg-pool": lambda: AvgPool2d(2),
    "residual": lambda: Residual(Conv2d(3, 3, 3, padding=1)),
    "skip-concat": lambda: SkipConcat(Sequential(MaxPool2d(2), Conv2d(3, 2, 3, padding=1),
                                                 NearestUpsampling(scale_factor=2))),
    "deep-denoiser": lambda: build_unet((4, 6, 5)),
    "denoiser": lambda: build_denoiser((4, 8), 2, 0, 3, 1),
    "seed-denoiser": lambda: build_denoiser((4, 8), 6, 2, 7, 3),
}


@pytest.fixture
def float32_reductions():
    """cuBLAS may sum bfloat16 products in reduced precision (split-K); the bound assumes
    float32 sums, which torch gives with this switch off."""
    before = torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    yield
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = before


@pytest.mark.usefixtures("float32_reductions")
@pytest.mark.parametrize("name", ["conv", "conv-2x2-stride-2", "conv-dilated", "transpose", "upsampling"])
def test_bf16_layer_is_within_the_bound_on_the_gpu(name):
    torch.manual_seed(0)
    check_bf16_against_autograd(LAYERS[name]().to("cuda"), torch.randn(2, 3, 12, 12, device="cuda"))


def test_bf16_prediction_is_close_to_fp32_on_the_gpu():
    model_class = importlib.import_module("Miniproject_2.model").Model
    pictures = (torch.rand(2, 3, 40, 36, device="cuda") * 255).round()
    results = []
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        results.append(model_class(arch="deep", channels=(8, 8), device="cuda", precision=precision).predict(pictures))
    assert results[1].dtype == torch.float32 and (results[1] - results[0]).abs().max() <= 2.0


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", LAYERS)
def test_layer_matches_autograd_on_the_gpu(name, layout):
    torch.manual_seed(0)
    module = LAYERS[name]().to("cuda")
    check_against_autograd(module, torch.randn(2, 3, 12, 12, device="cuda"), layout, layout)


def test_mse_matches_autograd_on_the_gpu():
    x, target = (torch.randn(2, 3, 5, 4, dtype=torch.float64, device="cuda") for _ in range(2))
    mse = MSE()
    loss = mse.forward(x, target)
    x_ref = x.clone().requires_grad_()
    torch.nn.functional.mse_loss(x_ref, target).backward()
    torch.testing.assert_close(loss, torch.nn.functional.mse_loss(x, target), **TOLERANCE)
    torch.testing.assert_close(mse.backward(), x_ref.grad, **TOLERANCE)


def pairs(n=24, size=16):
    generator = torch.Generator().manual_seed(0)
    return [torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)
            for _ in range(2)]


# GPU and CPU round differently (and cuDNN may use TF32 for torch.nn's convolutions):
# predictions agree within a grey level, not bit for bit.
ACROSS_DEVICES = {"atol": 1.0, "rtol": 0.0}


ARCHS = {"simple": {"channels": (4, 8)}, "deep": {"arch": "deep", "channels": (4, 6, 5)}}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("module", ["Miniproject_2.model", "Miniproject_1.model"])
def test_a_model_trained_on_the_gpu_loads_on_the_cpu_and_back(module, arch, tmp_path):
    Model = importlib.import_module(module).Model
    a, b = pairs()
    x = a[:4]
    torch.manual_seed(0)
    gpu = Model(device="cuda", **ARCHS[arch])
    gpu.train(a, b, 1, progress=False)
    on_gpu = gpu.predict(x)
    assert on_gpu.device.type == "cpu", "predict answers on the input's device"
    assert gpu.predict(x.cuda()).is_cuda
    gpu.save_model(tmp_path / "gpu.pkl")
    # Written with CPU tensors: a plain torch.load reads it on a machine without a GPU.
    saved = torch.load(tmp_path / "gpu.pkl", weights_only=True)
    assert all(tensor.device.type == "cpu" for tensor in saved["state_dict"].values())

    cpu = Model(device="cpu", **ARCHS[arch])
    cpu.load_model(tmp_path / "gpu.pkl")
    torch.testing.assert_close(cpu.predict(x), on_gpu, **ACROSS_DEVICES)
    cpu.train(a, b, 1, progress=False)
    cpu.save_model(tmp_path / "cpu.pkl")

    back = Model(device="cuda", **ARCHS[arch])
    back.load_model(tmp_path / "cpu.pkl")
    torch.testing.assert_close(back.predict(x), cpu.predict(x), **ACROSS_DEVICES)
    back.train(a, b, 1, progress=False)  # the optimizer's state moved to the GPU too
    assert back.epochs_trained == 3


def test_fresh_noise_is_drawn_on_the_gpu():
    clean = pairs()[0]
    noisy_a, noisy_b = fresh_pairs(clean, (0, 50), True, seed=0, epoch=1, device="cuda")
    assert noisy_a.is_cuda and noisy_a.dtype == torch.uint8 and noisy_b.dtype == torch.float32
    again = fresh_pairs(clean, (0, 50), True, seed=0, epoch=1, device="cuda")
    assert torch.equal(noisy_a, again[0]) and torch.equal(noisy_b, again[1])
    assert not torch.equal(noisy_a, fresh_pairs(clean, (0, 50), True, seed=0, epoch=2, device="cuda")[0])


def test_each_device_has_its_own_scratch_buffer():
    empty_cache()
    cpu, gpu = torch.empty(0), torch.empty(0, device="cuda")
    with scratch((4, 5), cpu) as on_cpu, scratch((4, 5), gpu) as on_gpu:
        assert on_cpu.device.type == "cpu" and on_gpu.is_cuda
    with scratch((3, 3), gpu) as again:
        assert again.data_ptr() == on_gpu.data_ptr(), "reused on the GPU"
    with scratch((3, 3), cpu) as again:
        assert again.data_ptr() == on_cpu.data_ptr(), "and on the CPU, separately"
    empty_cache()


def test_gpu_results_survive_the_next_pass():
    torch.manual_seed(0)
    net = build_denoiser((8, 16), 2, 0, 3, 1, device="cuda")
    first = None
    for _ in range(2):
        x = torch.randn(2, 3, 16, 12, device="cuda").to(memory_format=torch.channels_last)
        y = net.forward(x)
        results = [y, net.backward(torch.randn(y.shape, device="cuda"))]
        if first is None:
            first, copies = results, [r.clone() for r in results]
    assert all(torch.equal(r, c) for r, c in zip(first, copies))


def test_the_colour_check_gives_the_cpu_numbers_on_the_gpu():
    from Miniproject_2.others.denoisers.clipping import match_colour
    generator = torch.Generator().manual_seed(0)
    clean = (torch.rand(4, 3, 40, 48, generator=generator) * 255).round()
    noisy = (clean + 40 * torch.randn(clean.shape, generator=generator)).round().clamp(0, 255).to(torch.uint8)
    denoised = (clean + 5).clamp(0, 255)
    on_cpu = match_colour(noisy, denoised.clone())
    # The noisy pictures may stay on the CPU while the result lives on the GPU.
    on_gpu = match_colour(noisy, denoised.cuda())
    assert on_gpu.is_cuda and torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-3)


def test_the_blend_toward_the_input_gives_the_cpu_numbers_on_the_gpu():
    from Miniproject_2.others.denoisers.shrinkage import shrink_to_input

    box = box_denoiser(3)
    generator = torch.Generator().manual_seed(0)
    clean = torch.full((3, 3, 40, 48), 120.0)
    clean[..., 20:, :] += 30.0 * (torch.arange(48) % 3 == 0).float()
    noisy = (clean + 3 * torch.randn(clean.shape, generator=generator)).round().clamp(0, 255).to(torch.uint8)
    raw = box(noisy, torch.empty(noisy.shape))
    on_cpu = shrink_to_input(noisy, raw.clone(), box)
    # The noisy pictures may stay on the CPU while the result lives on the GPU.
    on_gpu = shrink_to_input(noisy, raw.cuda(), box)
    assert on_gpu.is_cuda and torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-3)
