"""Miniproject 1: a Noise2Noise denoiser written with torch.nn and autograd.

It is the reference twin of Miniproject_2: with the same configuration it is
the very network that Miniproject_2 builds from hand-written blocks (the
course's required shape by default, the U-Net with ``arch="deep"``), so the two
can be compared on speed and quality with everything else held equal.

Images travel through the public API on the 0-255 scale (uint8 or float);
the network itself sees them divided by 255 (the simple one ends with a
sigmoid, the deep one adds a correction to its input), and the loss is an MSE
on [0, 1].

``predict`` pads each image by reflection up to a multiple of the network's
downsampling factor and crops the output back: any height and width work, odd
ones included.
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
from Miniproject_2.others.plumbing import checkpoint
from Miniproject_2.others.denoisers import clipping, prediction, shrinkage, tiles
from Miniproject_2.others.plumbing.config import DEEP_CONFIG, DEFAULT_CONFIG, check_config, check_count
from Miniproject_2.others.denoisers.ensemble import check_ensemble
from Miniproject_2.others.plumbing.images import check_images, check_pairs, dihedral, epoch_batches, reflect_pad
from Miniproject_2.others.plumbing.progress import Progress
from Miniproject_2.others.denoisers.strength import check_strength, with_strength
from Miniproject_2.others.denoisers.network import network_margin, network_stride
from Miniproject_2.others.denoisers.unet import SLOPE

# The twin takes Miniproject_2's configuration (arch="simple", the course's required network,
# or arch="deep", the U-Net), so the two cannot drift apart. device=None computes wherever
# the input lives.
__all__ = ["Model", "DEFAULT_CONFIG", "DEEP_CONFIG"]

CHECKPOINT_FORMAT = "n2n-miniproject1/1"
#: The committed checkpoint of each architecture.
CHECKPOINTS = {"simple": Path(__file__).with_name("bestmodel.pth"),
               "deep": Path(__file__).with_name("bestmodel_deep.pth")}

# Pixels per predict chunk: 256 images of 32x32, or one 512x512 image.
PREDICT_PIXEL_BUDGET = 256 * 32 * 32


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


class _Residual(nn.Module):
    """``x + inner(x)``, as Miniproject_2's ``Residual``."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return x + self.inner(x)


class _SkipConcat(nn.Module):
    """``cat([x, inner(x)], 1)``, as Miniproject_2's ``SkipConcat``."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return torch.cat([x, self.inner(x)], 1)


def _block(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(SLOPE),
            nn.Conv2d(c_out, c_out, 3, padding=1), nn.LeakyReLU(SLOPE)]


def _levels(c_in, widths, skip):
    body = _block(c_in, widths[0])
    if len(widths) > 1:
        body.append(_join(widths[0], widths[1:], skip))
    return nn.Sequential(nn.MaxPool2d(2), *body, nn.Upsample(scale_factor=2, mode="nearest"))


def _join(channels, widths, skip):
    inner = _levels(channels, widths, skip)
    if skip == "concat":
        return nn.Sequential(_SkipConcat(inner), *_block(channels + widths[0], channels))
    return nn.Sequential(_Residual(inner), *_block(channels, channels))


def _deep_net(config):
    """Miniproject_2's ``build_unet`` in torch.nn, layer for layer: the same state_dict keys,
    so either model's weights load into the other."""
    channels, skip = config["channels"], config["skip"]
    body = _block(3, channels[0])
    if len(channels) > 1:
        body.append(_join(channels[0], channels[1:], skip))
    return _Residual(nn.Sequential(*body, nn.Conv2d(channels[0], 3, 3, padding=1)))


def _build(config):
    """A fresh network (on the CPU) and its optimizer."""
    # Seeding a forked RNG keeps the weights reproducible without changing
    # the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config["seed"])
        net = _deep_net(config) if config["arch"] == "deep" else _simple_net(config)
    if config["optimizer"] == "adam":
        optimizer = torch.optim.Adam(net.parameters(), lr=config["lr"])
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=config["lr"], momentum=config["momentum"])
    return net, optimizer


class Model:
    """The denoiser behind the course's API; ``Model(**config)`` overrides DEFAULT_CONFIG.

    ``precision="bf16"`` runs the network under ``torch.autocast`` in bfloat16 (float32
    master weights), torch's own mixed precision, the counterpart of Miniproject_2's.
    """

    def __init__(self, **config):
        self.config = check_config(config)
        self.epochs_trained = 0
        self.net, self.optimizer = _build(self.config)
        self.device = torch.device("cpu")
        self._random = random.Random(self.config["seed"])

    def set_lr(self, lr):
        """Train the epochs to come with learning rate ``lr`` (one step of a schedule); saves keep it."""
        self.config = check_config({**self.config, "lr": lr})
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

    def _autocast(self, device):
        """torch.autocast in bfloat16 on ``device`` when the precision is bf16 (else a no-op)."""
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.config["precision"] == "bf16")

    @property
    def stride(self):
        """Training pictures' heights and widths must be multiples of this."""
        return network_stride(self.config)

    def load_pretrained_model(self) -> None:
        """Load the committed checkpoint of this model's architecture (``arch``)."""
        path = CHECKPOINTS[self.config["arch"]]
        if not path.is_file():
            raise FileNotFoundError(f"no pretrained model at {path}; train one and save it there")
        self.load_model(path)

    def train(self, train_input, train_target, num_epochs=1, progress=None):
        """Trains on noisy pairs and returns the mean loss of each epoch.

        As Miniproject_2's: sizes must be multiples of 4, and an epoch in which the loss
        or the weights stop being finite raises ``FloatingPointError`` and is undone, as
        is an interrupted one.
        """
        check_pairs(train_input, train_target, self.stride, "Model.train")
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
            with self._autocast(device):
                outputs = self.net(inputs)
            loss = F.mse_loss(outputs.float(), targets)
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

    def predict(self, test_input, out=None, ensemble=1, progress=False, strength=1.0):
        """Denoises (N, 3, H, W) images; returns floats in [0, 255] on the input's device.

        Memory is bounded as in Miniproject_2 (large pictures go in tiles); ``out``,
        ``ensemble`` (the mean over flips and rotations), ``progress`` and ``strength`` work the same way;
        the deep model's output is blended toward lightly noisy inputs (given back its detail
        under correlated noise) and its colours are set right the same way (Miniproject_2's
        ``others/denoisers/shrinkage.py``, ``others/denoisers/detail.py`` and ``others/denoisers/clipping.py``).
        """
        check_images(test_input, "Model.predict: test_input")
        check_ensemble(ensemble, "Model.predict")
        strength = check_strength(strength, "Model.predict")
        device = self._compute_device(test_input)
        self._move_to(device)
        self.net.eval()
        if out is None:
            out = torch.empty(test_input.shape, dtype=torch.float32, device=test_input.device)
        tiles.check_out(out, test_input, "Model.predict")
        if strength != 1:
            return with_strength(lambda images, into: self.predict(images, into, ensemble, progress),
                                 test_input, strength, out)
        context = network_margin(self.config)

        def run(images):
            height, width = images.shape[2:]
            images = reflect_pad(images.to(device, torch.float32) / 255, self.stride)
            with self._autocast(device):
                outputs = self.net(images)
            return (outputs.float()[:, :, :height, :width] * 255).clamp_(0, 255)

        denoise = prediction.passes(run, context, PREDICT_PIXEL_BUDGET, self.stride, ensemble, torch.float32,
                                    progress)

        with torch.no_grad():
            denoise(test_input, out)
            if self.config["arch"] == "deep":
                shrinkage.shrink_to_input(test_input, out, denoise)
                clipping.match_colour(test_input, out)
        return out

    def save_model(self, path) -> None:
        """Writes a checkpoint atomically (Miniproject_2's writer: finite weights only)."""
        checkpoint.save({
            "config": dict(self.config),
            "state_dict": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epochs_trained": self.epochs_trained,
            # Where the batch order stands, so that a resumed run sees the batches it would have.
            "rng_state": self._random.getstate(),
        }, path, CHECKPOINT_FORMAT)

    def load_model(self, path) -> None:
        """Loads a checkpoint written by ``save_model``, replacing the configuration.

        Checked as Miniproject_2's and built aside, so a failed load raises
        ``ValueError`` and changes nothing. The ``device`` and ``precision`` settings are
        kept: they describe this machine, not the checkpoint.
        """
        saved, state_dict, optimizer_state, epochs, rng = checkpoint.load(path, CHECKPOINT_FORMAT)
        here = {key: self.config[key] for key in ("device", "precision")}
        config = check_config({**saved, **here}, f"checkpoint {str(path)!r}", complete=True)
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
