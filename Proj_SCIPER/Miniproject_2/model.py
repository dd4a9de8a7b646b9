"""Noise2Noise denoiser trained with the autograd-free framework in ``others/``.

The course grader imports this file with ``Proj_SCIPER`` on ``sys.path`` and calls
``Model()``, ``load_pretrained_model()``, ``train(noisy_a, noisy_b, num_epochs)`` and
``predict(x)``; it also imports the building blocks from here.
"""
import math
import random
from pathlib import Path

import torch

from .others.denoisers import clipping, prediction, shrinkage, tiles
from .others.denoisers.ensemble import check_ensemble
from .others.denoisers.network import build_denoiser, network_margin, network_stride
from .others.denoisers.strength import check_strength, with_strength
from .others.denoisers.unet import build_unet
from .others.kernels import precision
from .others.layers.avg_pool2d import AvgPool2d
from .others.layers.conv2d import Conv2d
from .others.layers.leaky_relu import LeakyReLU
from .others.layers.max_pool2d import MaxPool2d
from .others.layers.module import inference
from .others.layers.mse import MSE
from .others.layers.relu import ReLU
from .others.layers.sequential import Sequential
from .others.layers.sigmoid import Sigmoid
from .others.layers.skip import Residual, SkipConcat
from .others.layers.transpose_conv2d import TransposeConv2d
from .others.layers.upsampling import NearestUpsampling, NNUpsampling, Upsampling
from .others.optim.adam import Adam
from .others.optim.sgd import SGD
from .others.plumbing import checkpoint
from .others.plumbing.config import DEEP_CONFIG, DEFAULT_CONFIG, check_config, check_count
from .others.plumbing.images import check_finite, check_images, check_pairs, dihedral, epoch_batches, reflect_pad, to_unit
from .others.plumbing.progress import Progress

__all__ = ["Model", "Conv2d", "TransposeConv2d", "NearestUpsampling", "NNUpsampling", "Upsampling", "ReLU",
           "LeakyReLU", "Sigmoid", "MaxPool2d", "AvgPool2d", "MSE", "SGD", "Adam", "Sequential", "Residual",
           "SkipConcat", "DEFAULT_CONFIG", "DEEP_CONFIG"]

ARCHITECTURE = ("channels", "kernel_down", "padding_down", "kernel_up", "padding_up")
#: The committed checkpoint of each architecture, trained with this framework.
CHECKPOINTS = {"simple": Path(__file__).resolve().parent / "bestmodel.pkl",
               "deep": Path(__file__).resolve().parent / "bestmodel_deep.pkl"}
#: The committed deep model fine-tuned on a camera's noise (n2n denoise's default):
#: ``Model(arch="deep").load_model(CAMERA_CHECKPOINT)``.
CAMERA_CHECKPOINT = Path(__file__).resolve().parent / "bestmodel_camera.pkl"
LONG = torch.int64
#: Pixels per forward pass in predict: bounds memory whatever the batch and image size.
PREDICT_PIXELS = 1 << 19


def _copy(value):
    """A tensor, or a tuple of tensors and numbers (an optimizer's state), copied."""
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value.clone() if hasattr(value, "clone") else value


class Model:
    """A Noise2Noise denoiser: learns from pairs of noisy images, predicts clean ones.

    ``Model()`` is the course's required network with :data:`DEFAULT_CONFIG`;
    ``Model(arch="deep")`` the U-Net with :data:`DEEP_CONFIG`, which predicts a correction
    of its input (so a clean picture can come back unchanged). Other keyword arguments
    override the defaults, and a bad value raises ``ValueError`` naming it. Weights are
    initialised from torch's global random generator, as torch.nn layers are (seed it
    with ``torch.manual_seed`` for a reproducible start); ``seed`` drives shuffling and
    augmentation through its own generator, so the caller's random state is untouched.
    ``precision="bf16"`` runs the convolutions' products in bfloat16 (parameters, gradients
    and optimizer stay float32), see :mod:`.others.kernels.precision`; the default ``"fp32"``
    computes in float32.
    """

    def __init__(self, **config):
        self.config = check_config(config)
        self.device = self.config["device"] or "cpu"
        self.net, self.optimizer = self._build(self.config)
        self.loss = MSE()
        self.epochs_trained = 0
        self._random = random.Random(self.config["seed"])

    def _build(self, config):
        """A new network and its optimizer for ``config``."""
        if config["arch"] == "deep":
            net = build_unet(config["channels"], config["skip"], device=self.device)
        else:
            net = build_denoiser(**{key: config[key] for key in ARCHITECTURE}, device=self.device)
        precision.set_precision(net, config["precision"])
        if config["optimizer"] == "adam":
            return net, Adam(net.param(), lr=config["lr"])
        return net, SGD(net.param(), lr=config["lr"], momentum=config["momentum"])

    # -- persistence ------------------------------------------------------------------------
    def save_model(self, path):
        """Write configuration, weights, optimizer state and batch order to ``path``, atomically.

        There is no default path: the committed ``bestmodel.pkl`` is only ever replaced on
        purpose. Non-finite weights raise ``ValueError`` and write nothing.
        """
        config = {**self.config, "channels": list(self.config["channels"])}
        checkpoint.save({"config": config, "state_dict": self.net.state_dict(),
                         "optimizer": self.optimizer.state_dict(),
                         "epochs_trained": self.epochs_trained,
                         # Where the batch order stands, so a resumed run sees the batches it would have.
                         "rng_state": self._random.getstate()}, path)

    def load_model(self, path):
        """Load configuration, weights, optimizer state and batch order from ``path``.

        The ``device`` and ``precision`` settings are kept (they describe how this machine
        computes; a checkpoint holds float32 weights under either). Everything is checked
        on a network built aside before this model changes, so a checkpoint that is
        corrupt or does not fit raises ``ValueError`` and changes nothing. When the
        configuration matches this model's, tensors are copied in place, so references
        to the parameters stay live.
        """
        saved, state_dict, optimizer_state, epochs, rng = checkpoint.load(path)
        here = {key: self.config[key] for key in ("device", "precision")}
        config = check_config({**saved, **here}, owner=f"checkpoint {str(path)!r}", complete=True)
        net, optimizer = self._build(config)
        try:
            net.load_state_dict(state_dict)
            optimizer.load_state_dict(optimizer_state)
        except (KeyError, ValueError) as error:
            raise ValueError(f"checkpoint {str(path)!r} does not fit its configuration: {error}") from None
        if config == self.config:
            self.net.load_state_dict(net.state_dict())
            self.optimizer.load_state_dict(optimizer.state_dict())
        else:
            self.config, self.net, self.optimizer = config, net, optimizer
        self.epochs_trained = epochs
        self._random = rng or random.Random(config["seed"])

    def load_pretrained_model(self):
        """Load the committed checkpoint of this model's architecture (``arch``)."""
        self.load_model(CHECKPOINTS[self.config["arch"]])

    @property
    def stride(self):
        """Training pictures' heights and widths must be multiples of this."""
        return network_stride(self.config)

    @property
    def dtype(self):
        """The floating point type the network computes in (its parameters')."""
        return self.net.param()[0][0].dtype

    # -- training -----------------------------------------------------------------------------
    def set_lr(self, lr):
        """Train the epochs to come with learning rate ``lr`` (one step of a schedule); saves keep it."""
        self.config = check_config({**self.config, "lr": lr})
        self.optimizer.lr = self.config["lr"]

    def train(self, train_input, train_target, num_epochs=1, progress=None, data_parallel=None):
        """Train on pairs of noisy 0-255 images; returns the mean loss of each epoch.

        Heights and widths must be multiples of :attr:`stride` (4 for the default
        networks; ``predict`` takes any size). The target
        may hold values in ``others.plumbing.images.TARGET_RANGE`` (unclipped noisy pictures). Each epoch
        visits the pairs in a new random order, in mini-batches, each batch under one of
        the 8 flips/rotations (the same for both images of a pair). Raises
        ``FloatingPointError`` if the loss or the weights stop being finite (or grow past
        :data:`checkpoint.MAX_WEIGHT`); the model is then restored to where it stood
        before that epoch, as it is when the epoch is interrupted (``KeyboardInterrupt``).

        ``data_parallel`` makes this call one of several processes training one model
        (``n2n train`` under torchrun passes it; every process calls ``train`` with the
        same data and seed): ``data_parallel.share(indices)`` picks this process's pairs
        of each batch, and after backward ``data_parallel.reduce(grads, loss, count,
        total)`` turns the gradients of this process's ``count`` of the batch's ``total``
        pairs into the whole batch's, in place, and returns the batch's mean loss.
        """
        check_pairs(train_input, train_target, self.stride, "Model.train")
        check_count(num_epochs, "num_epochs", "Model.train")
        losses = []
        for _ in range(num_epochs):
            before = self._snapshot()
            try:
                losses.append(self._train_epoch(train_input, train_target, progress, data_parallel))
            except BaseException:
                # Diverged or interrupted (Ctrl-C): the model stays at a finished epoch.
                self._restore(before)
                raise
            self.epochs_trained += 1
        return losses

    def _train_epoch(self, train_input, train_target, progress, data_parallel):
        n, epoch = train_input.shape[0], self.epochs_trained + 1
        bar = Progress(n, f"epoch {epoch}", enabled=progress)
        total = 0.0
        try:
            for indices, k in epoch_batches(n, self.config["batch_size"], self._random):
                mine = indices if data_parallel is None else data_parallel.share(indices)
                self.optimizer.zero_grad()
                # A process whose share is empty (a batch smaller than the process count)
                # still takes part in the reduction, with zero gradients.
                loss = self._forward_backward(train_input, train_target, mine, k) if mine else 0.0
                if data_parallel is not None:
                    grads = [grad for _, grad in self.net.param()]
                    loss = data_parallel.reduce(grads, loss, len(mine), len(indices))
                if not math.isfinite(loss):
                    raise FloatingPointError(f"Model.train: training diverged in epoch {epoch} after {bar.done} "
                                             f"pairs: loss is {loss}; lower the learning rate (lr={self.config['lr']})")
                self.optimizer.step()
                total += loss * len(indices)
                bar.update(len(indices), loss)
        finally:
            bar.close()
        # The loss is checked before each step, so the epoch's last step is checked here.
        problem = checkpoint.weight_problem(self.net.state_dict())
        if problem:
            raise FloatingPointError(f"Model.train: training diverged in epoch {epoch}: weight {problem}; "
                                     f"lower the learning rate (lr={self.config['lr']})")
        return total / n

    def _snapshot(self):
        """Copies of everything an epoch changes, to undo a diverged one."""
        return ({key: tensor.clone() for key, tensor in self.net.state_dict().items()},
                {"state": {index: _copy(value) for index, value in self.optimizer.state.items()}},
                self._random.getstate())

    def _restore(self, snapshot):
        weights, optimizer_state, random_state = snapshot
        self.net.load_state_dict(weights)
        self.optimizer.load_state_dict(optimizer_state)
        self._random.setstate(random_state)

    def _forward_backward(self, train_input, train_target, indices, k):
        """The mean loss over pairs ``indices`` under flip/rotation ``k``; adds its gradients."""
        dtype = self.dtype
        index = train_input.new_tensor(indices, dtype=LONG, device=train_input.device)
        noisy = to_unit(dihedral(train_input.index_select(0, index), k), self.device, dtype)
        target = to_unit(dihedral(train_target.index_select(0, index), k), self.device, dtype)
        loss = self.loss.forward(self.net.forward(noisy), target).item()
        self.net.backward(self.loss.backward())
        return loss

    # -- inference ------------------------------------------------------------------------------
    def predict(self, test_input, out=None, ensemble=1, progress=False, strength=1.0, unclipped=False):
        """Denoise 0-255 images of any size: a float tensor in [0, 255], shaped and placed like the input.

        Runs at most about :data:`PREDICT_PIXELS` pixels at a time (a large picture goes in
        tiles whose results equal a single pass), so memory beyond the result stays bounded.
        ``ensemble`` (1, 2, 4 or 8) averages the network over that many flips and rotations
        of each picture (:mod:`.others.denoisers.ensemble`): better pictures for ``ensemble`` times
        the time. The deep model then blends each lightly noisy picture back toward its
        input as far as an estimate of its error says
        (:func:`.others.denoisers.shrinkage.shrink_to_input`) or, where the noise is correlated
        from pixel to pixel (a camera's), gives back what it took for noise where the residual
        stands far above the noise level (:mod:`.others.denoisers.detail`), and shifts each picture's channels so
        that its colour agrees with the noisy picture's under the clipped noise model
        (:func:`.others.denoisers.clipping.match_colour`).
        ``out``, a tensor of the input's shape, receives the result instead (rounded if it
        is an integer tensor, e.g. uint8), and is returned. ``progress``: a progress bar on
        stderr per pass (``None``: when stderr is a terminal). ``strength`` (0 to 4, default 1)
        smooths less (below 1) or more (above 1) than the blind result; ``"auto"`` smooths
        more (1.5) a picture whose noise looks like a camera's, light and coarse, and gives the
        others the blind result (:mod:`.others.denoisers.strength`). ``unclipped=True`` declares float noise that was
        never clipped (the papers' protocol: ``clean + sigma * z`` in floating point, beyond
        0-255 near black and white): any finite values are taken and clipped to 0-255 first,
        the pictures the network learnt from (passing them on unclipped measured 0.2-3.6 dB
        worse at sigma 25-50; docs/quality.md); a copy of the input is made for it.
        """
        if unclipped:
            check_finite(test_input, "Model.predict: test_input")
            test_input = test_input.clamp(0, 255)
        check_images(test_input, "Model.predict: test_input")
        check_ensemble(ensemble, "Model.predict")
        strength = check_strength(strength, "Model.predict")
        if out is None:
            out = test_input.new_empty(test_input.shape, dtype=self.dtype)
        tiles.check_out(out, test_input, "Model.predict")
        if strength != 1:
            return with_strength(lambda images, into: self.predict(images, into, ensemble, progress),
                                 test_input, strength, out)
        denoise = prediction.passes(self._denoise, network_margin(self.config), PREDICT_PIXELS, self.stride,
                                    ensemble, self.dtype, progress)
        denoise(test_input, out)
        if self.config["arch"] == "deep":
            # The blind U-Net may take fine texture for noise (others/denoisers/shrinkage.py, detail.py),
            # and undoes the clipping of noise at 0 and 255 only roughly; its colours are
            # set right against the noise model (others/denoisers/clipping.py).
            shrinkage.shrink_to_input(test_input, out, denoise)
            clipping.match_colour(test_input, out)
        return out

    def _denoise(self, images):
        h, w = images.shape[2:]
        x = to_unit(images, self.device, self.dtype)
        with inference():
            return self.net.forward(reflect_pad(x, self.stride))[:, :, :h, :w].mul(255).clamp_(0, 255)
