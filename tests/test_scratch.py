"""Scratch memory: reused between convolutions, never visible in what a layer returns."""
import threading

import pytest
import torch

from Miniproject_2.others import Conv2d, Sequential, TransposeConv2d, Upsampling
from Miniproject_2.others.denoisers.network import build_denoiser
from Miniproject_2.others.kernels import scratch as scratch_module
from Miniproject_2.others.kernels.scratch import empty_cache, scratch

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
    with scratch((4, 5), like) as first:
        pass
    with scratch((2, 3), like) as again:
        assert again.data_ptr() == first.data_ptr()
    with scratch((10, 10), like) as grown:
        assert grown.shape == (10, 10)
    with scratch((3, 3), like) as again:
        assert again.data_ptr() == grown.data_ptr()
    with scratch((3, 3), torch.empty(0, dtype=torch.float64)) as other:
        assert other.dtype == torch.float64
    empty_cache()
    assert "buffers" not in scratch_module._local.__dict__


def test_a_lent_buffer_is_never_lent_again_before_it_is_returned():
    """Nested requests get separate memory, so correctness never depends on the order in
    which the kernels ask; the larger buffer is kept for the next request."""
    like = torch.empty(0)
    empty_cache()
    with scratch((4, 5), like) as outer:
        with scratch((2, 2), like) as inner:
            assert inner.data_ptr() != outer.data_ptr()
    with scratch((4, 5), like) as after:
        assert after.data_ptr() == outer.data_ptr()


def test_a_buffer_comes_back_when_its_block_raises():
    like = torch.empty(0)
    empty_cache()
    with pytest.raises(RuntimeError):
        with scratch((4, 5), like) as lent:
            raise RuntimeError("a failing kernel")
    with scratch((4, 5), like) as again:
        assert again.data_ptr() == lent.data_ptr()


def test_each_thread_has_its_own_buffer():
    like = torch.empty(0)
    with scratch((100,), like) as lent:
        mine = lent.data_ptr()
    theirs = []

    def borrow():
        with scratch((100,), like) as lent:
            theirs.append(lent.data_ptr())
    thread = threading.Thread(target=borrow)
    thread.start()
    thread.join()
    assert theirs[0] != mine
