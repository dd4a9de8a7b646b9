"""The denoiser: the course's required shape, built from this framework's layers, and the
geometry both networks' users need (how sizes must align, how far a pixel sees)."""
from . import tiles
from ..layers.conv2d import Conv2d
from ..layers.relu import ReLU
from ..layers.sequential import Sequential
from ..layers.sigmoid import Sigmoid
from .unet import unet_margin, unet_stride
from ..layers.upsampling import Upsampling

#: Downsampling factor of the network: inputs are padded to a multiple of it.
STRIDE = 4


def build_denoiser(channels, kernel_down, padding_down, kernel_up, padding_up, device=None, dtype=None):
    """``Conv(stride 2), ReLU, Conv(stride 2), ReLU, Upsampling, ReLU, Upsampling, Sigmoid``.

    Maps images in [0, 1] to images in [0, 1]; H and W must be multiples of :data:`STRIDE`
    for the output to have the input's size.
    """
    c1, c2 = channels
    kw = dict(device=device, dtype=dtype)
    return Sequential(
        Conv2d(3, c1, kernel_down, stride=2, padding=padding_down, **kw), ReLU(),
        Conv2d(c1, c2, kernel_down, stride=2, padding=padding_down, **kw), ReLU(),
        Upsampling(c2, c1, kernel_up, padding=padding_up, scale_factor=2, **kw), ReLU(),
        Upsampling(c1, 3, kernel_up, padding=padding_up, scale_factor=2, **kw), Sigmoid(),
    )


def network_stride(config):
    """The factor by which the network of ``config`` (a model configuration) shrinks a
    picture: training pictures' H and W must be multiples of it, and predict pads to it."""
    return unet_stride(len(config["channels"])) if config["arch"] == "deep" else STRIDE


def network_margin(config):
    """Context, in pixels, that a prediction tile of ``config``'s network needs around it."""
    if config["arch"] == "deep":
        return unet_margin(len(config["channels"]))
    return tiles.margin(config["kernel_down"], config["kernel_up"])
