"""Channels-last storage behind the NCHW interface.

Every layer takes and returns logical ``(N, C, H, W)`` tensors, as torch does.
Inside, a channels-last tensor (memory order N, H, W, C) lets a convolution be
one matrix product ``(N*H*W, K) @ (K, C_out)`` whose result *is* the next
activation, so no layout copies sit between layers. A channels-last tensor is
exposed as the NCHW-shaped view ``nhwc.permute(0, 3, 1, 2)``.
"""


def is_channels_last(x):
    """True when ``x`` (NCHW-shaped) is a permuted view of a contiguous NHWC tensor."""
    return x.permute(0, 2, 3, 1).is_contiguous()


def nhwc(x):
    """The contiguous ``(N, H, W, C)`` tensor behind ``x``, copying only if needed."""
    return x.permute(0, 2, 3, 1).contiguous()


def nchw(x_nhwc):
    """The NCHW-shaped view of an ``(N, H, W, C)`` tensor (no copy)."""
    return x_nhwc.permute(0, 3, 1, 2)


def new_nchw(like, shape, channels_last):
    """An uninitialised ``(N, C, H, W)`` tensor with ``like``'s dtype and device, stored
    channels-last if ``channels_last``."""
    n, c, h, w = shape
    return nchw(like.new_empty((n, h, w, c))) if channels_last else like.new_empty(shape)
