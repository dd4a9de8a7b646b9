"""The CUDA path: every layer against autograd on the GPU, models moving between GPU
and CPU through checkpoints, and the scratch buffers kept per device.

Marked ``cuda`` and skipped, with the reason in the summary, when torch sees no GPU
(a CPU-only build, or no device). They have not run on a GPU yet (see the README).
"""
import importlib

import pytest
import torch

from helpers import LAYOUTS, TOLERANCE, check_against_autograd
from Miniproject_2.others import (MSE, Conv2d, NearestUpsampling, ReLU, Sequential, Sigmoid,
                                  TransposeConv2d, Upsampling)
from Miniproject_2.others.network import build_denoiser
from Miniproject_2.others.scratch import empty_cache, scratch

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
    "denoiser": lambda: build_denoiser((4, 8), 2, 0, 3, 1),
    "seed-denoiser": lambda: build_denoiser((4, 8), 6, 2, 7, 3),
}


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


@pytest.mark.parametrize("module", ["Miniproject_2.model", "Miniproject_1.model"])
def test_a_model_trained_on_the_gpu_loads_on_the_cpu_and_back(module, tmp_path):
    Model = importlib.import_module(module).Model
    a, b = pairs()
    x = a[:4]
    torch.manual_seed(0)
    gpu = Model(device="cuda", channels=(4, 8))
    gpu.train(a, b, 1, progress=False)
    on_gpu = gpu.predict(x)
    assert on_gpu.device.type == "cpu", "predict answers on the input's device"
    assert gpu.predict(x.cuda()).is_cuda
    gpu.save_model(tmp_path / "gpu.pkl")

    cpu = Model(device="cpu", channels=(4, 8))
    cpu.load_model(tmp_path / "gpu.pkl")
    torch.testing.assert_close(cpu.predict(x), on_gpu, **ACROSS_DEVICES)
    cpu.train(a, b, 1, progress=False)
    cpu.save_model(tmp_path / "cpu.pkl")

    back = Model(device="cuda", channels=(4, 8))
    back.load_model(tmp_path / "cpu.pkl")
    torch.testing.assert_close(back.predict(x), cpu.predict(x), **ACROSS_DEVICES)
    back.train(a, b, 1, progress=False)  # the optimizer's state moved to the GPU too
    assert back.epochs_trained == 3


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
