"""Noise2Noise denoiser trained with the autograd-free framework in ``others/``.

The course grader imports this file with ``Proj_SCIPER`` on ``sys.path`` and calls
``Model()``, ``load_pretrained_model()``, ``train(noisy_a, noisy_b, num_epochs)`` and
``predict(x)``; it also imports the building blocks from here.
"""
import math
import random
from pathlib import Path

import torch

from .others import checkpoint
from .others.adam import Adam
from .others.conv2d import Conv2d
from .others.images import check_images, dihedral, epoch_batches, reflect_pad, to_unit
from .others.mse import MSE
from .others.network import STRIDE, build_denoiser
from .others.progress import Progress
from .others.relu import ReLU
from .others.sequential import Sequential
from .others.sgd import SGD
from .others.sigmoid import Sigmoid
from .others.transpose_conv2d import TransposeConv2d
from .others.upsampling import NearestUpsampling, Upsampling

__all__ = ["Model", "Conv2d", "TransposeConv2d", "NearestUpsampling", "Upsampling", "ReLU", "Sigmoid",
           "MSE", "SGD", "Adam", "Sequential"]

#: The committed checkpoint was trained with exactly this configuration.
DEFAULT_CONFIG = {
    "channels": (32, 64),
    "kernel_down": 2,
    "padding_down": 0,
    "kernel_up": 3,
    "padding_up": 1,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.9,
    "batch_size": 32,
    "seed": 0,
    "device": None,
}
ARCHITECTURE = ("channels", "kernel_down", "padding_down", "kernel_up", "padding_up")
CHECKPOINT = Path(__file__).resolve().parent / "bestmodel.pkl"
LONG = torch.int64
#: Pixels per forward pass in predict: bounds memory whatever the batch and image size.
PREDICT_PIXELS = 1 << 19


class Model:
    """A Noise2Noise denoiser: learns from pairs of noisy images, predicts clean ones.

    ``Model()`` uses :data:`DEFAULT_CONFIG`; keyword arguments override it. Weights are
    initialised from torch's global random generator, as torch.nn layers are (seed it
    with ``torch.manual_seed`` for a reproducible start); ``seed`` drives shuffling and
    augmentation through its own generator, so the caller's random state is untouched.
    """

    def __init__(self, **config):
        unknown = sorted(set(config) - set(DEFAULT_CONFIG))
        if unknown:
            raise ValueError(f"Model: unknown configuration keys {unknown}; known: {sorted(DEFAULT_CONFIG)}")
        self.config = {**DEFAULT_CONFIG, **config}
        self.config["channels"] = tuple(self.config["channels"])
        if self.config["optimizer"] not in ("adam", "sgd"):
            raise ValueError(f"Model: optimizer must be 'adam' or 'sgd', got {self.config['optimizer']!r}")
        if not isinstance(self.config["batch_size"], int) or self.config["batch_size"] < 1:
            raise ValueError(f"Model: batch_size must be a positive int, got {self.config['batch_size']!r}")
        self.device = self.config["device"] or "cpu"
        self._build()
        self.epochs_trained = 0
        self._random = random.Random(self.config["seed"])

    def _build(self):
        arch = {key: self.config[key] for key in ARCHITECTURE}
        self.net = build_denoiser(**arch, device=self.device)
        self.loss = MSE()
        if self.config["optimizer"] == "adam":
            self.optimizer = Adam(self.net.param(), lr=self.config["lr"])
        else:
            self.optimizer = SGD(self.net.param(), lr=self.config["lr"], momentum=self.config["momentum"])

    # -- persistence ------------------------------------------------------------------------
    def save_model(self, path=CHECKPOINT):
        config = {**self.config, "channels": list(self.config["channels"])}
        checkpoint.save({"config": config, "state_dict": self.net.state_dict(),
                         "optimizer": self.optimizer.state_dict(),
                         "epochs_trained": self.epochs_trained,
                         # Where the batch order stands, so a resumed run sees the batches it would have.
                         "rng_state": self._random.getstate()}, path)

    def load_model(self, path):
        """Load configuration, weights, optimizer state and batch order from ``path``.

        The ``device`` setting is kept (it describes this machine). When the checkpoint's
        configuration matches this model's, tensors are loaded in place, so references to
        the parameters stay live; otherwise the network and optimizer are rebuilt first.
        """
        payload = checkpoint.load(path, ("config", "state_dict", "optimizer", "epochs_trained"))
        saved = {**payload["config"], "device": self.config["device"]}
        saved["channels"] = tuple(saved.get("channels", ()))
        if set(saved) != set(DEFAULT_CONFIG):
            raise ValueError(f"checkpoint {str(path)!r} has configuration keys {sorted(saved)}, "
                             f"expected {sorted(DEFAULT_CONFIG)}")
        if saved != self.config:
            self.config = saved
            self._build()
        try:
            self.net.load_state_dict(payload["state_dict"])
            self.optimizer.load_state_dict(payload["optimizer"])
        except (KeyError, ValueError, IndexError) as error:
            raise ValueError(f"checkpoint {str(path)!r} does not fit the network: {error}") from None
        self.epochs_trained = int(payload["epochs_trained"])
        self._random = random.Random(self.config["seed"])
        if "rng_state" in payload:
            self._random.setstate(payload["rng_state"])

    def load_pretrained_model(self):
        self.load_model(CHECKPOINT)

    # -- training -----------------------------------------------------------------------------
    def train(self, train_input, train_target, num_epochs=1, progress=None, data_parallel=None):
        """Train on pairs of noisy 0-255 images; returns the mean loss of each epoch.

        Each epoch visits the pairs in a new random order, in mini-batches, each batch
        under one of the 8 flips/rotations (the same for both images of a pair). Raises
        ``FloatingPointError`` if the loss stops being finite; the weights are then
        those of the last finite step.

        ``data_parallel`` makes this call one of several processes training one model
        (``n2n train`` under torchrun passes it; every process calls ``train`` with the
        same data and seed): ``data_parallel.share(indices)`` picks this process's pairs
        of each batch, and after backward ``data_parallel.reduce(grads, loss, count,
        total)`` turns the gradients of this process's ``count`` of the batch's ``total``
        pairs into the whole batch's, in place, and returns the batch's mean loss.
        """
        check_images(train_input, "Model.train: train_input")
        check_images(train_target, "Model.train: train_target")
        if train_input.shape != train_target.shape:
            raise ValueError(f"Model.train: train_input {tuple(train_input.shape)} and train_target "
                             f"{tuple(train_target.shape)} differ in shape")
        if not isinstance(num_epochs, int) or num_epochs < 0:
            raise ValueError(f"Model.train: num_epochs must be a non-negative int, got {num_epochs!r}")
        n, batch = train_input.shape[0], self.config["batch_size"]
        losses = []
        for _ in range(num_epochs):
            bar = Progress(n, f"epoch {self.epochs_trained + 1}", enabled=progress)
            total = 0.0
            for indices, k in epoch_batches(n, batch, self._random):
                mine = indices if data_parallel is None else data_parallel.share(indices)
                self.optimizer.zero_grad()
                # A process whose share is empty (a batch smaller than the process count)
                # still takes part in the reduction, with zero gradients.
                loss = self._forward_backward(train_input, train_target, mine, k) if mine else 0.0
                if data_parallel is not None:
                    grads = [grad for _, grad in self.net.param()]
                    loss = data_parallel.reduce(grads, loss, len(mine), len(indices))
                if not math.isfinite(loss):
                    bar.close()
                    raise FloatingPointError(
                        f"Model.train: training diverged in epoch {self.epochs_trained + 1} after "
                        f"{bar.done} pairs: loss is {loss}; lower the learning rate (lr={self.config['lr']})")
                self.optimizer.step()
                total += loss * len(indices)
                bar.update(len(indices), loss)
            bar.close()
            self.epochs_trained += 1
            losses.append(total / n)
        return losses

    def _forward_backward(self, train_input, train_target, indices, k):
        """The mean loss over pairs ``indices`` under flip/rotation ``k``; adds its gradients."""
        dtype = self.net[0].weight.dtype
        index = train_input.new_tensor(indices, dtype=LONG, device=train_input.device)
        noisy = to_unit(dihedral(train_input.index_select(0, index), k), self.device, dtype)
        target = to_unit(dihedral(train_target.index_select(0, index), k), self.device, dtype)
        loss = self.loss.forward(self.net.forward(noisy), target).item()
        self.net.backward(self.loss.backward())
        return loss

    # -- inference ------------------------------------------------------------------------------
    def predict(self, test_input):
        """Denoise 0-255 images of any size: a float tensor in [0, 255], shaped and placed like the input."""
        check_images(test_input, "Model.predict: test_input")
        n, _, h, w = test_input.shape
        dtype = self.net[0].weight.dtype
        chunk = max(1, PREDICT_PIXELS // (h * w))
        out = test_input.new_empty(test_input.shape, dtype=dtype)
        for start in range(0, n, chunk):
            images = to_unit(test_input[start:start + chunk], self.device, dtype)
            denoised = self.net.forward(reflect_pad(images, STRIDE))[:, :, :h, :w]
            out[start:start + chunk] = denoised.mul(255).clamp_(0, 255).to(test_input.device)
        return out
