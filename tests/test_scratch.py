"""Scratch memory: reused between convolutions, never visible in what a layer returns."""
import threading

import pytest
import torch

from Miniproject_2.others import Conv2d, Sequential, TransposeConv2d, Upsampling
from Miniproject_2.others.network import build_denoiser
from Miniproject_2.others import scratch as scratch_module
from Miniproject_2.others.scratch import empty_cache, scratch

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("make", [
    lambda: build_denoiser((8, 16), 2, 0, 3, 1),
    lambda: build_denoiser((8, 16), 6, 2, 7, 3),
    lambda: Sequential(Conv2d(3, 2, 3, padding=1), TransposeConv2d(2, 5, 3, stride=2), Upsampling(5, 3, 3)),
], ids=["default-shape", "seed-shape", "other layers"])
def test_results_survive_the_next_pass(make):
    """Outputs and input gradients are fresh tensors: a second forward/backward (which
    reuses every scratch buffer) leaves the first pass's intact."""
    torch.manual_seed(0)
    net = make()
    first = None
    for _ in range(2):
        x = torch.randn(2, 3, 16, 12).to(memory_format=torch.channels_last)
        y = net.forward(x)
        results = [y, net.backward(torch.randn(y.shape))]
        if first is None:
            first, copies = results, [r.clone() for r in results]
    assert all(torch.equal(r, c) for r, c in zip(first, copies))
    assert not torch.equal(results[0], first[0])


def test_a_buffer_is_reused_grown_and_released():
    like = torch.empty(0)
    empty_cache()
    first = scratch((4, 5), like)
    assert scratch((2, 3), like).data_ptr() == first.data_ptr()
    grown = scratch((10, 10), like)
    assert grown.shape == (10, 10)
    assert scratch((3, 3), like).data_ptr() == grown.data_ptr()
    assert scratch((3, 3), torch.empty(0, dtype=torch.float64)).dtype == torch.float64
    empty_cache()
    assert "buffers" not in scratch_module._local.__dict__


def test_each_thread_has_its_own_buffer():
    like = torch.empty(0)
    mine = scratch((100,), like).data_ptr()
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(scratch((100,), like).data_ptr()))
    thread.start()
    thread.join()
    assert theirs[0] != mine
