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

import math
import os
import random
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

# The data pipeline (shuffling, batching, augmentation, padding) and the progress bar are
# shared with Miniproject_2 so that the two differ only in how the network computes.
from Miniproject_2.model import DEFAULT_CONFIG as MINIPROJECT_2_CONFIG
from Miniproject_2.others.images import dihedral, epoch_batches, reflect_pad
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


def _check_config(config):
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
    config = {**DEFAULT_CONFIG, **config}

    def positive_int(key):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{key} must be a positive int, got {value!r}")

    if config["arch"] not in ("simple", "unet"):
        raise ValueError(f"arch must be 'simple' or 'unet', got {config['arch']!r}")
    channels = config["channels"]
    if (
        not isinstance(channels, (tuple, list))
        or len(channels) != 2
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels)
    ):
        raise ValueError(f"channels must be two positive ints, got {channels!r}")
    config["channels"] = tuple(channels)
    for key in ("kernel_down", "kernel_up", "batch_size"):
        positive_int(key)
    for key in ("padding_down", "padding_up"):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} must be a non-negative int, got {value!r}")
    # Without these two identities the output would not have the input's size.
    if config["kernel_down"] - 2 * config["padding_down"] not in (1, 2):
        raise ValueError("kernel_down - 2 * padding_down must be 1 or 2 so that a stride-2 "
                         "convolution halves even sizes exactly")
    if config["kernel_up"] != 2 * config["padding_up"] + 1:
        raise ValueError("kernel_up must equal 2 * padding_up + 1 so that the convolution "
                         "after each upsampling keeps the size")
    if config["optimizer"] not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {config['optimizer']!r}")
    lr = config["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    momentum = config["momentum"]
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if isinstance(config["seed"], bool) or not isinstance(config["seed"], int):
        raise ValueError(f"seed must be an int, got {config['seed']!r}")
    device = config["device"]
    if device is not None:
        try:
            config["device"] = str(torch.device(device))
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"device {device!r} is not a torch device: {error}") from None
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


def _check_images(name, images):
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.bool or images.is_complex():
        raise TypeError(f"{name} must hold uint8 or float values in 0-255, got {images.dtype}")


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
        """Trains on noisy pairs and returns the mean loss of each epoch."""
        _check_images("train_input", train_input)
        _check_images("train_target", train_target)
        if train_input.shape != train_target.shape:
            raise ValueError(f"train_input and train_target shapes differ: "
                             f"{tuple(train_input.shape)} vs {tuple(train_target.shape)}")
        if train_input.shape[0] == 0:
            raise ValueError("cannot train on an empty set")
        if isinstance(num_epochs, bool) or not isinstance(num_epochs, int) or num_epochs < 0:
            raise ValueError(f"num_epochs must be a non-negative int, got {num_epochs!r}")

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
                try:
                    total = self._train_epoch(train_input, train_target, device, bar)
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
            inputs, targets = dihedral(train_input[index], k), dihedral(train_target[index], k)
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
        return total

    def predict(self, test_input):
        """Denoises (N, 3, H, W) images; returns floats in [0, 255] on the input's device."""
        _check_images("test_input", test_input)
        n, _, height, width = test_input.shape
        device = self._compute_device(test_input)
        self._move_to(device)
        self.net.eval()
        chunk = max(1, PREDICT_PIXEL_BUDGET // (height * width))
        outputs = []
        with torch.no_grad():
            for start in range(0, n, chunk):
                images = test_input[start:start + chunk].to(device, torch.float32) / 255
                images = reflect_pad(images, SIZE_MULTIPLE)
                denoised = self.net(images)[:, :, :height, :width]
                outputs.append((denoised * 255).clamp_(0, 255).to(test_input.device))
        if not outputs:
            return torch.empty(test_input.shape, dtype=torch.float32, device=test_input.device)
        return torch.cat(outputs)

    def save_model(self, path) -> None:
        """Writes a checkpoint atomically: a crash never leaves half a file."""
        checkpoint = {
            "format": CHECKPOINT_FORMAT,
            "config": dict(self.config),
            "state_dict": _to_cpu(self.net.state_dict()),
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "epochs_trained": self.epochs_trained,
            # Where the batch order stands, so that a resumed run sees the batches it would have.
            "rng_state": self._random.getstate(),
        }
        path = Path(path)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            # mkstemp makes owner-only files; a checkpoint is meant to be shared.
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def load_model(self, path) -> None:
        """Loads a checkpoint written by ``save_model``, replacing the configuration.

        The ``device`` setting is kept: it describes this machine, not the
        checkpoint.
        """
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as error:
            raise ValueError(f"{path} is not a readable checkpoint: {error}") from error
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a Miniproject_1 checkpoint ({CHECKPOINT_FORMAT})")
        try:
            config = {**checkpoint["config"], "device": self.config["device"]}
            state_dict, optimizer_state = checkpoint["state_dict"], checkpoint["optimizer"]
            epochs_trained = int(checkpoint["epochs_trained"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path} is an incomplete checkpoint: {error}") from error
        # Built aside so that a failed load leaves this model as it was.
        config = _check_config(config)
        net, optimizer = _build(config)
        try:
            net.load_state_dict(state_dict)
            optimizer.load_state_dict(optimizer_state)
        except (RuntimeError, KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{path} does not match its own configuration: {error}") from error
        self.config, self.net, self.optimizer = config, net, optimizer
        self.device = torch.device("cpu")
        self.epochs_trained = epochs_trained
        self._random = random.Random(config["seed"])
        if "rng_state" in checkpoint:
            self._random.setstate(checkpoint["rng_state"])
