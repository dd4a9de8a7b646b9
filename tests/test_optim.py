"""SGD and Adam against torch.optim on the same network, in-place updates, state round trip."""
import io

import pytest
import torch
import torch.nn.functional as F

from helpers import as_layout, twin
from Miniproject_2.others import MSE, SGD, Adam, Conv2d, ReLU, Sequential, Sigmoid, Upsampling

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 10


def small_net(dtype=torch.float64, seed=1):
    """The same initial weights whatever ran before (the layers draw from torch's global
    generator, which is restored afterwards). In float32, ten Adam steps at lr=0.01 from
    9 of 200 initial draws (seeds 0, 3, 6, 37, ...) end up to 2.5e-5 from torch.optim's,
    beyond the 1e-6 compared below: Adam divides gradients near 0 by their own size, so
    float32 rounding differences in them are amplified (float64 agrees for all of them)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Sequential(Conv2d(3, 6, 3, stride=2, padding=1), ReLU(), Upsampling(6, 3, 3, padding=1),
                          Sigmoid()).to(dtype=dtype)


def batches(dtype=torch.float64, steps=STEPS, layout="contiguous"):
    generator = torch.Generator().manual_seed(0)
    return [(as_layout(torch.rand(4, 3, 8, 8, generator=generator, dtype=dtype), layout),
             torch.rand(4, 3, 8, 8, generator=generator, dtype=dtype)) for _ in range(steps)]


def train_ours(net, optimizer, data):
    mse = MSE()
    for x, target in data:
        optimizer.zero_grad()
        mse.forward(net.forward(x), target)
        net.backward(mse.backward())
        optimizer.step()


def train_torch(model, optimizer, data):
    for x, target in data:
        optimizer.zero_grad()
        F.mse_loss(model(x), target).backward()
        optimizer.step()


def assert_same_weights(net, model):
    theirs = model.state_dict()
    for name, tensor in net.state_dict().items():
        torch.testing.assert_close(tensor, theirs[name], rtol=0, atol=1e-6, msg=name)


OPTIMIZERS = [
    (SGD, torch.optim.SGD, {"lr": 0.5}),
    (SGD, torch.optim.SGD, {"lr": 0.5, "momentum": 0.9}),
    (SGD, torch.optim.SGD, {"lr": 0.5, "momentum": 0.9, "dampening": 0.3}),
    (SGD, torch.optim.SGD, {"lr": 0.5, "momentum": 0.9, "nesterov": True}),
    (SGD, torch.optim.SGD, {"lr": 0.5, "weight_decay": 0.05}),
    (SGD, torch.optim.SGD, {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.01, "nesterov": True}),
    (SGD, torch.optim.SGD, {"lr": 0.2, "momentum": 0.9, "maximize": True}),
    (Adam, torch.optim.Adam, {}),
    (Adam, torch.optim.Adam, {"lr": 0.01}),
    (Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    (Adam, torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("ours, theirs, kwargs", OPTIMIZERS, ids=lambda v: v.__name__ if isinstance(v, type) else str(v))
def test_ten_steps_match_torch_optim(ours, theirs, kwargs, dtype, layout):
    net = small_net(dtype)
    model = twin(net)  # the same initial weights, through load_state_dict
    data = batches(dtype, layout=layout)
    start = {name: tensor.clone() for name, tensor in net.state_dict().items()}
    train_ours(net, ours(net.param(), **kwargs), data)
    train_torch(model, theirs(model.parameters(), **kwargs), data)
    assert all(not torch.equal(start[name], tensor) for name, tensor in net.state_dict().items())
    assert_same_weights(net, model)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_step_updates_parameters_in_place(optimizer):
    net = small_net()
    live = net.state_dict()
    pairs = net.param()
    addresses = [tensor.data_ptr() for tensor, _ in pairs]
    before = {name: tensor.clone() for name, tensor in live.items()}
    train_ours(net, optimizer(pairs, lr=0.1), batches(steps=1))
    for name, tensor in net.state_dict().items():
        assert tensor is live[name], f"{name} was rebound"
        assert not torch.equal(live[name], before[name]), f"{name} did not change"
    assert [tensor.data_ptr() for tensor, _ in net.param()] == addresses


def test_load_state_dict_updates_the_live_tensors_and_the_optimizer_follows():
    net, other = small_net(), small_net(seed=2)
    weight = net[0].weight
    optimizer = SGD(net.param(), lr=0.1)
    net.load_state_dict(other.state_dict())
    assert net[0].weight is weight and torch.equal(weight, other[0].weight)
    train_ours(net, optimizer, batches(steps=1))
    assert not torch.equal(weight, other[0].weight), "the optimizer no longer updates the model"


@pytest.mark.parametrize("optimizer, kwargs", [(SGD, {"lr": 0.3, "momentum": 0.9}), (Adam, {"lr": 0.01})],
                         ids=["SGD", "Adam"])
def test_state_dict_round_trip_resumes_identically(optimizer, kwargs):
    data = batches()
    straight = small_net()
    start = {name: tensor.clone() for name, tensor in straight.state_dict().items()}
    train_ours(straight, optimizer(straight.param(), **kwargs), data)

    first = small_net(seed=3)
    first.load_state_dict(start)
    first_optimizer = optimizer(first.param(), **kwargs)
    train_ours(first, first_optimizer, data[:STEPS // 2])
    buffer = io.BytesIO()
    torch.save({"model": first.state_dict(), "optimizer": first_optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)

    resumed = small_net(seed=4)
    resumed.load_state_dict(saved["model"])
    resumed_optimizer = optimizer(resumed.param(), **kwargs)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    train_ours(resumed, resumed_optimizer, data[STEPS // 2:])
    for name, tensor in resumed.state_dict().items():
        assert torch.equal(tensor, straight.state_dict()[name]), name


def test_optimizer_zero_grad_clears_the_module_gradients():
    net = small_net()
    optimizer = SGD(net.param(), lr=0.1)
    mse = MSE()
    x, target = batches(steps=1)[0]
    mse.forward(net.forward(x), target)
    net.backward(mse.backward())
    assert all(grad.any() for _, grad in net.param())
    optimizer.zero_grad()
    assert all(not grad.any() for _, grad in net.param())


def test_step_leaves_the_gradients_alone():
    net = small_net()
    mse = MSE()
    x, target = batches(steps=1)[0]
    mse.forward(net.forward(x), target)
    net.backward(mse.backward())
    grads = [grad.clone() for _, grad in net.param()]
    SGD(net.param(), lr=0.1, momentum=0.9, weight_decay=0.1).step()
    assert all(torch.equal(grad, saved) for (_, grad), saved in zip(net.param(), grads))
