"""The deep denoiser: a U-Net with a residual output, built from this framework's layers."""
from ..plumbing.config import SKIPS
from ..layers.conv2d import Conv2d
from ..layers.join import ConcatJoin
from ..layers.leaky_relu import LeakyReLU
from ..layers.max_pool2d import MaxPool2d
from ..layers.sequential import Sequential
from ..layers.skip import Residual, SkipConcat
from ..layers.upsampling import NearestUpsampling

#: The negative slope of every activation (Noise2Noise's U-Net uses 0.1 as well).
SLOPE = 0.1


def _block(c_in, c_out, kw):
    """Two 3x3 convolutions, each followed by a leaky ReLU; sizes are kept."""
    return [Conv2d(c_in, c_out, 3, padding=1, **kw), LeakyReLU(SLOPE),
            Conv2d(c_out, c_out, 3, padding=1, **kw), LeakyReLU(SLOPE)]


def _levels(c_in, widths, skip, kw):
    """The levels below one of width ``c_in``, ``widths[0]`` wide and deeper: pool, two
    convolutions, the levels below (joined by ``skip``), upsample. Sizes are kept."""
    body = _block(c_in, widths[0], kw)
    if len(widths) > 1:
        body.append(_join(widths[0], widths[1:], skip, kw))
    return Sequential(MaxPool2d(2), *body, NearestUpsampling(scale_factor=2))


def _join(channels, widths, skip, kw):
    """The levels below a level of width ``channels``, joined to it by ``skip``, then two
    convolutions back to ``channels``."""
    inner = _levels(channels, widths, skip, kw)
    if skip == "concat":
        # ConcatJoin: the Sequential of these modules, with the concatenation and the
        # convolution after it run as one step.
        return ConcatJoin(SkipConcat(inner), *_block(channels + widths[0], channels, kw))
    return Sequential(Residual(inner), *_block(channels, channels, kw))


def unet_stride(depth):
    """The factor by which the deepest of ``depth`` levels shrinks a picture: H and W must be
    multiples of it."""
    return 2 ** (depth - 1)


def unet_margin(depth):
    """Context, in pixels, that a prediction tile needs around it.

    Level ``l`` (0 at full size) holds four 3x3 convolutions (two on the way down, two
    up, the deepest two in all) at scale ``2**l``, each reaching one pixel further there; the
    poolings and upsamplings add less than a pixel per level. This bound is larger and a
    multiple of the stride.
    """
    return 8 * unet_stride(depth) + 8


def build_unet(channels, skip="concat", device=None, dtype=None):
    """``x + f(x)`` with ``f`` a U-Net whose level ``l`` (at 1/2**l of the size) is
    ``channels[l]`` wide.

    Maps pictures in [0, 1] to pictures near [0, 1] (the output is not clamped: a
    Noise2Noise target may lie outside). H and W must be multiples of
    ``unet_stride(len(channels))``. ``skip`` joins each level to the one below:
    ``"concat"`` stacks their channels (as the U-Net of Ronneberger et al. does), ``"add"``
    sums them (all widths must then be equal).
    """
    if skip not in SKIPS:
        raise ValueError(f"build_unet: skip must be one of {SKIPS}, got {skip!r}")
    if skip == "add" and len(set(channels)) > 1:
        raise ValueError(f"build_unet: skip='add' sums levels, so their widths must be equal, got {channels}")
    kw = dict(device=device, dtype=dtype)
    body = _block(3, channels[0], kw)
    if len(channels) > 1:
        body.append(_join(channels[0], channels[1:], skip, kw))
    return Residual(Sequential(*body, Conv2d(channels[0], 3, 3, padding=1, **kw)))
