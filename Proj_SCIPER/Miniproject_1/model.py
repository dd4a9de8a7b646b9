"""Miniproject 1: a Noise2Noise denoiser written with torch.nn and autograd.

It is the reference twin of Miniproject_2: with the default configuration it
is the very network that Miniproject_2 builds from hand-written blocks, so the
two can be compared on speed and quality with everything else held equal.

Images travel through the public API on the 0-255 scale (uint8 or float);
the network itself sees them divided by 255 and ends with a sigmoid, so the
loss is an MSE on [0, 1].

Every network here downsamples by 4, so ``predict`` pads each image by
reflection up to a multiple of 4 and crops the output back: any height and
width work, odd ones included.
"""

import copy
import math
import random
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

# The data pipeline (shuffling, batching, augmentation, padding), the progress bar, the
# configuration and input checks, prediction in pieces and the checkpoint files are
# shared with Miniproject_2, so that the two differ only in how the network computes.
from Miniproject_2.others import checkpoint, tiles
from Miniproject_2.others.config import DEFAULT_CONFIG as MINIPROJECT_2_CONFIG
from Miniproject_2.others.config import check_config, check_count
from Miniproject_2.others.images import TARGET_RANGE, check_images, dihedral, epoch_batches, reflect_pad
from Miniproject_2.others.progress import Progress

# The twin takes Miniproject_2's configuration, so the two cannot drift apart, plus the
# choice of architecture: 'simple' is the course's required network, 'unet' adds skip
# connections. device=None computes wherever the input lives.
DEFAULT_CONFIG = {"arch": "simple", **MINIPROJECT_2_CONFIG}

CHECKPOINT_FORMAT = "n2n-miniproject1/1"

# The two stride-2 convolutions shrink images by this factor.
SIZE_MULTIPLE = 4

# Pixels per predict chunk: 256 images of 32x32, or one 512x512 image.
PREDICT_PIXEL_BUDGET = 256 * 32 * 32


# The U-Net's receptive field: two 3x3 convolutions at each of 1, 1/2 and 1/4 resolution
# on the way down and up, plus the pooling grid, with room to spare.
UNET_MARGIN = 32


def _check_config(config, owner="Model", complete=False):
    config = check_config(config, DEFAULT_CONFIG, owner, complete)
    if config["arch"] not in ("simple", "unet"):
        raise ValueError(f"{owner}: arch must be 'simple' or 'unet', got {config['arch']!r}")
    return config


def _simple_net(config):
    """The course's required shape: two stride-2 convolutions, two upsamplings."""
    c1, c2 = config["channels"]
    kd, pd = config["kernel_down"], config["padding_down"]
    ku, pu = config["kernel_up"], config["padding_up"]
    return nn.Sequential(
        nn.Conv2d(3, c1, kd, stride=2, padding=pd),
        nn.ReLU(),
        nn.Conv2d(c1, c2, kd, stride=2, padding=pd),
        nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c2, c1, ku, padding=pu),
        nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c1, 3, ku, padding=pu),
        nn.Sigmoid(),
    )


def _double_conv(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1),
        nn.ReLU(),
    )


class UNet(nn.Module):
    """A small U-Net: three resolutions (1, 1/2, 1/4) and skip connections.

    Each level is two 3x3 convolutions; max-pooling goes down, nearest
    upsampling goes up and its output is concatenated with the encoder's
    features at that resolution, so fine detail need not squeeze through the
    1/4-resolution bottleneck. ``channels=(c1, c2)`` sets the widths of the
    full and the two lower resolutions; the kernel and padding keys do not
    apply to it.
    """

    def __init__(self, channels):
        super().__init__()
        c1, c2 = channels
        self.enc1 = _double_conv(3, c1)
        self.enc2 = _double_conv(c1, c2)
        self.bottom = _double_conv(c2, c2)
        self.dec2 = _double_conv(2 * c2, c2)
        self.dec1 = _double_conv(c2 + c1, c1)
        self.head = nn.Conv2d(c1, 3, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        bottom = self.bottom(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([F.interpolate(bottom, scale_factor=2.0), e2], dim=1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0), e1], dim=1))
        return torch.sigmoid(self.head(d1))


def _to_cpu(value):
    """Copies every tensor of a nested dict/list/tuple to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    return value


def _build(config):
    """A fresh network (on the CPU) and its optimizer."""
    # Seeding a forked RNG keeps the weights reproducible without changing
    # the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config["seed"])
        net = UNet(config["channels"]) if config["arch"] == "unet" else _simple_net(config)
    if config["optimizer"] == "adam":
        optimizer = torch.optim.Adam(net.parameters(), lr=config["lr"])
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=config["lr"], momentum=config["momentum"])
    return net, optimizer


class Model:
    """The denoiser behind the course's API; ``Model(**config)`` overrides DEFAULT_CONFIG."""

    def __init__(self, **config):
        self.config = _check_config(config)
        self.epochs_trained = 0
        self.net, self.optimizer = _build(self.config)
        self.device = torch.device("cpu")
        self._random = random.Random(self.config["seed"])

    def set_lr(self, lr):
        """Train the epochs to come with learning rate ``lr`` (one step of a schedule); saves keep it."""
        self.config = _check_config({**self.config, "lr": lr})
        for group in self.optimizer.param_groups:
            group["lr"] = self.config["lr"]

    def _move_to(self, device):
        """Moves the network and the optimizer's state in place.

        ``Module.to`` keeps the same Parameter objects, so the optimizer still
        updates the tensors the network uses; only its moment buffers need
        moving.
        """
        if device == self.device:
            return
        self.net.to(device)
        for state in self.optimizer.state.values():
            for key, value in state.items():
                # Adam keeps its step count on the CPU unless 'capturable'.
                if isinstance(value, torch.Tensor) and key != "step":
                    state[key] = value.to(device)
        self.device = device

    def _compute_device(self, images):
        if self.config["device"] is None:
            return images.device
        return torch.device(self.config["device"])

    def load_pretrained_model(self) -> None:
        path = Path(__file__).with_name("bestmodel.pth")
        if not path.is_file():
            raise FileNotFoundError(f"no pretrained model at {path}; train one and save it there")
        self.load_model(path)

    def train(self, train_input, train_target, num_epochs=1, progress=None):
        """Trains on noisy pairs and returns the mean loss of each epoch.

        As Miniproject_2's: sizes must be multiples of 4, and an epoch in which the loss
        or the weights stop being finite raises ``FloatingPointError`` and is undone, as
        is an interrupted one.
        """
        check_images(train_input, "Model.train: train_input", SIZE_MULTIPLE)
        check_images(train_target, "Model.train: train_target", SIZE_MULTIPLE, TARGET_RANGE)
        if train_input.shape != train_target.shape:
            raise ValueError(f"Model.train: train_input and train_target shapes differ: "
                             f"{tuple(train_input.shape)} vs {tuple(train_target.shape)}")
        check_count(num_epochs, "num_epochs", "Model.train")

        device = self._compute_device(train_input)
        self._move_to(device)
        self.net.train()
        n = train_input.shape[0]
        losses = []
        last_epoch = self.epochs_trained + num_epochs
        # The caller may have switched autograd off globally (the course's
        # grader does so for Miniproject_2).
        with torch.enable_grad():
            for _ in range(num_epochs):
                bar = Progress(n, f"epoch {self.epochs_trained + 1}/{last_epoch}", enabled=progress)
                before = (copy.deepcopy(self.net.state_dict()), copy.deepcopy(self.optimizer.state_dict()),
                          self._random.getstate())
                try:
                    total = self._train_epoch(train_input, train_target, device, bar)
                except BaseException:
                    self.net.load_state_dict(before[0])
                    self.optimizer.load_state_dict(before[1])
                    self._random.setstate(before[2])
                    raise
                finally:
                    bar.close()
                self.epochs_trained += 1
                losses.append(total / n)
        return losses

    def _train_epoch(self, train_input, train_target, device, bar):
        """One pass over the pairs, batched and augmented exactly as Miniproject_2 does;
        returns the summed loss."""
        n, batch_size = train_input.shape[0], self.config["batch_size"]
        total, done = 0.0, 0
        for indices, k in epoch_batches(n, batch_size, self._random):
            index = torch.tensor(indices, device=train_input.device)
            # detach: a caller's graph must not reach into training.
            inputs, targets = dihedral(train_input[index], k).detach(), dihedral(train_target[index], k).detach()
            inputs = inputs.to(device, torch.float32) / 255
            targets = targets.to(device, torch.float32) / 255
            loss = F.mse_loss(self.net(inputs), targets)
            value = loss.item()
            # Checked before the step so that the weights stay finite.
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"loss became {value} in epoch {self.epochs_trained + 1}; "
                    f"try a smaller lr (now {self.config['lr']})"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += value * index.shape[0]
            done += index.shape[0]
            bar.update(index.shape[0], total / done)
        # The loss is checked before each step, so the epoch's last step is checked here.
        problem = checkpoint.weight_problem(self.net.state_dict())
        if problem:
            raise FloatingPointError(f"weight {problem} in epoch {self.epochs_trained + 1}; "
                                     f"try a smaller lr (now {self.config['lr']})")
        return total

    def predict(self, test_input, out=None):
        """Denoises (N, 3, H, W) images; returns floats in [0, 255] on the input's device.

        Memory is bounded as in Miniproject_2 (large pictures go in tiles), and ``out``
        works the same way.
        """
        check_images(test_input, "Model.predict: test_input")
        device = self._compute_device(test_input)
        self._move_to(device)
        self.net.eval()
        if out is None:
            out = torch.empty(test_input.shape, dtype=torch.float32, device=test_input.device)
        tiles.check_out(out, test_input, "Model.predict")
        context = (UNET_MARGIN if self.config["arch"] == "unet"
                   else tiles.margin(self.config["kernel_down"], self.config["kernel_up"]))

        def denoise(images):
            height, width = images.shape[2:]
            images = reflect_pad(images.to(device, torch.float32) / 255, SIZE_MULTIPLE)
            return (self.net(images)[:, :, :height, :width] * 255).clamp_(0, 255)

        with torch.no_grad():
            return tiles.predict_in_pieces(denoise, test_input, out, context, PREDICT_PIXEL_BUDGET)

    def save_model(self, path) -> None:
        """Writes a checkpoint atomically (Miniproject_2's writer: finite weights only)."""
        checkpoint.save({
            "config": dict(self.config),
            "state_dict": _to_cpu(self.net.state_dict()),
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "epochs_trained": self.epochs_trained,
            # Where the batch order stands, so that a resumed run sees the batches it would have.
            "rng_state": self._random.getstate(),
        }, path, CHECKPOINT_FORMAT)

    def load_model(self, path) -> None:
        """Loads a checkpoint written by ``save_model``, replacing the configuration.

        Checked as Miniproject_2's and built aside, so a failed load raises
        ``ValueError`` and changes nothing. The ``device`` setting is kept: it
        describes this machine, not the checkpoint.
        """
        saved, state_dict, optimizer_state, epochs, rng = checkpoint.load(path, CHECKPOINT_FORMAT)
        config = _check_config({**saved, "device": self.config["device"]}, f"checkpoint {str(path)!r}",
                               complete=True)
        net, optimizer = _build(config)
        try:
            net.load_state_dict(state_dict)
            # torch.optim would index whatever it finds there.
            if not all(isinstance(state, dict) for state in optimizer_state["state"].values()):
                raise ValueError("each parameter's optimizer state must be a dict")
            optimizer.load_state_dict(optimizer_state)
            for param, state in optimizer.state.items():
                for key, value in state.items():
                    if key != "step" and value.shape != param.shape:
                        raise ValueError(f"optimizer state {key!r} has shape {tuple(value.shape)}, "
                                         f"its parameter {tuple(param.shape)}")
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"checkpoint {str(path)!r} does not match its own configuration: "
                             f"{str(error).splitlines()[0]}") from None
        self.config, self.net, self.optimizer = config, net, optimizer
        self.device = torch.device("cpu")
        self.epochs_trained = epochs
        self._random = rng or random.Random(config["seed"])
