"""Nearest-neighbour upsampling, alone and fused with the convolution that follows it."""
import math

import torch

from ..plumbing.args import LARGEST, check_grad_output, check_input, only, pair, shown
from .conv_base import ConvBase
from ..kernels.conv_kernels import convolution_nhwc, convolution_nhwc_backward
from ..kernels.im2col import Window
from ..kernels.layout import is_channels_last, nchw, new_nchw, nhwc
from .module import Module


class NearestUpsampling(Module):
    r"""Nearest-neighbour upsampling, as ``torch.nn.UpsamplingNearest2d``.

    Args:
        size (int or tuple, optional): output size ``(H_out, W_out)``.
        scale_factor (float or tuple, optional): multiplier of the spatial size.
        Exactly one of the two must be given.

    Output pixel ``o`` copies input pixel ``min(floor(o * scale), H - 1)`` with
    ``scale = 1 / scale_factor`` (or ``H / H_out`` when ``size`` is given), in
    float32 like torch, so non-integer factors pick the same pixels; like torch, an output
    of exactly ``H`` or ``2 H`` pixels copies or doubles them whatever the factor. A
    channels-last input gives a channels-last output.

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: :math:`(N, C, H_{out}, W_{out})` with
          :math:`H_{out} = \lfloor H \times \text{scale\_factor} \rfloor` or ``size``.
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(f"NearestUpsampling: give exactly one of size and scale_factor, "
                             f"got size={shown(size)}, scale_factor={shown(scale_factor)}")
        self.size = None if size is None else pair(size, "size", "NearestUpsampling", 1)
        self.scale_factor = None
        if scale_factor is not None:
            factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
            if len(factors) != 2 or not all(isinstance(f, (int, float)) and not isinstance(f, bool)
                                            and 0 < f <= LARGEST for f in factors):
                raise ValueError(f"NearestUpsampling: scale_factor must be a positive number or pair, "
                                 f"at most {LARGEST}, got {shown(scale_factor)}")
            self.scale_factor = tuple(float(f) for f in factors)

    def extra_repr(self):
        return f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"

    def _indices(self, in_size, out_size, factor, like):
        if out_size in (in_size, 2 * in_size):
            # torch copies, or halves the index, whatever scale led to this size (nearest_idx
            # in aten/src/ATen/native/UpSample.h): e.g. x1.01 on 10 pixels is the identity.
            return torch.arange(out_size, device=like.device) // (out_size // in_size)
        if factor is not None:
            scale = 1.0 / factor
        else:
            scale = in_size / out_size
        positions = torch.arange(out_size, device=like.device, dtype=torch.float32)
        return (positions * scale).floor().long().clamp(max=in_size - 1)

    def forward(self, x):
        x = check_input(self, x, None)
        n, c, h, w = x.shape
        if self.size is not None:
            out_size, factors = self.size, (None, None)
        else:
            out_size = tuple(math.floor(i * f) for i, f in zip((h, w), self.scale_factor))
            factors = self.scale_factor
        if min(out_size) < 1 or max(out_size) > LARGEST:
            raise ValueError(f"{self!r}: input of shape {tuple(x.shape)} gives an output of size {out_size}, "
                             f"not in [1, {LARGEST}]")
        rows = self._indices(h, out_size[0], factors[0], x)
        columns = self._indices(w, out_size[1], factors[1], x)
        repeats = _repeats(rows, h), _repeats(columns, w)
        self._save(_index=(rows, columns), _repeats=repeats, _in_shape=x.shape, _like=x.new_empty(0),
                   _channels_last=is_channels_last(x))
        if None not in repeats:
            # One broadcasting copy, into the input's layout, instead of two gathers.
            out = new_nchw(x, (n, c, *out_size), is_channels_last(x))
            blocks = _blocks(out, h, w)
            blocks.copy_(x[:, :, :, None, :, None].expand(blocks.shape))
            return out
        if is_channels_last(x):
            # index_select would return contiguous NCHW; keep the layout the next layer expects.
            return nchw(nhwc(x).index_select(1, rows).index_select(2, columns))
        return x.index_select(2, rows).index_select(3, columns)

    def backward(self, grad_output):
        (rows, columns), repeats, shape, like, channels_last = self._saved(
            "_index", "_repeats", "_in_shape", "_like", "_channels_last")
        n, c, h, w = shape
        grad_output = check_grad_output(self, grad_output, (n, c, rows.shape[0], columns.shape[0]), like)
        if None not in repeats:
            # torch adds the copies' gradients one by one, in the output's row-major order,
            # onto zeros; the same order gives its numbers bit for bit. The gradient takes
            # the input's layout, the one the layer before works in.
            blocks = _blocks(grad_output, h, w)
            grad = new_nchw(like, shape, channels_last).zero_()
            for i in range(repeats[0]):
                for j in range(repeats[1]):
                    grad.add_(blocks[:, :, :, i, :, j])
            return grad
        partial = grad_output.new_empty((n, c, grad_output.shape[2], w)).zero_().index_add_(3, columns, grad_output)
        return grad_output.new_empty((n, c, h, w)).zero_().index_add_(2, rows, partial)


def _repeats(index, in_size):
    """``k`` when ``index`` repeats each of ``in_size`` pixels ``k`` times in a row (an integer
    factor, or a size that is a multiple), else ``None``."""
    k = index.shape[0] // in_size
    if k == 0 or index.shape[0] != k * in_size:
        return None
    steps = torch.arange(index.shape[0], device=index.device) // k
    return k if bool((index == steps).all()) else None


def _blocks(t, h, w):
    """``(N, C, H * kh, W * kw)`` as the ``(N, C, H, kh, W, kw)`` view of its ``kh x kw`` blocks."""
    return t.unflatten(2, (h, -1)).unflatten(4, (w, -1))


#: The course's name for :class:`NearestUpsampling` (the same class).
NNUpsampling = NearestUpsampling


def _phase_geometry(scale, kernel, padding, dilation, size):
    """One axis of a k-tap convolution after x``scale`` nearest upsampling, seen from the input.

    Output pixel ``o = scale * i + a`` reads upsampled pixels ``o - padding + dilation * t``,
    that is input pixels ``i + offset(a, t)`` with ``offset(a, t) = floor((a - padding +
    dilation * t) / scale)``. So phase ``a`` is a stride-1 convolution of the input with
    ``taps`` distinct offsets starting at ``offset(a, 0)``. The phases' windows differ only
    by where they start, so one im2col over ``positions`` window positions serves all of
    them: phase ``a`` reads positions ``shift[a] ...``. Returns
    ``(out_size, taps, shifts, positions, (pad_before, pad_after))``.
    """
    out = scale * size + 2 * padding - dilation * (kernel - 1)
    offsets = [[(a - padding + dilation * t) // scale for t in range(kernel)] for a in range(scale)]
    first = min(row[0] for row in offsets)
    taps = max(row[-1] - row[0] + 1 for row in offsets)
    shifts = [row[0] - first for row in offsets]
    positions = -(-out // scale) + max(shifts)
    return out, taps, shifts, positions, (-first, positions + taps - 1 - size + first)


def _phase_matrix(scale, kernel, padding, dilation, taps, like):
    """``(scale * taps, kernel)`` 0/1 matrix: row ``a * taps + r`` sums the kernel taps that
    read the ``r``-th offset of phase ``a``."""
    tap = torch.arange(kernel, device=like.device)
    phase = torch.arange(scale, device=like.device).view(scale, 1)
    offset = (phase - padding + dilation * tap).div(scale, rounding_mode="floor")
    offset = offset - offset[:, :1]
    hits = offset.view(scale, 1, kernel) == torch.arange(taps, device=like.device).view(1, taps, 1)
    return hits.to(like.dtype).view(scale * taps, kernel)


class UpsamplingPlan:
    """Everything about a convolution after nearest upsampling that depends only on the
    geometry (pairs ``scale_factor``, ``kernel_size``, ``padding``, ``dilation``) and on the
    input's size and type; ``what`` names the caller in errors."""

    def __init__(self, scale_factor, kernel_size, padding, dilation, x, what):
        geometry = (scale_factor, kernel_size, padding, dilation)
        axes = [_phase_geometry(s, k, p, d, n) for s, k, p, d, n in zip(*geometry, x.shape[2:])]
        self.out_size = tuple(axis[0] for axis in axes)
        if min(self.out_size) < 1:
            raise ValueError(f"{what}: the dilated kernel is larger than the padded upsampled input "
                             f"(input shape {tuple(x.shape)})")
        taps = tuple(axis[1] for axis in axes)
        self.window = Window(taps, (1, 1), (1, 1), (*axes[0][4], *axes[1][4]), tuple(x.shape[2:]))
        (sh, sw), (th, tw), (kh, kw) = scale_factor, taps, kernel_size
        mh, mw = [_phase_matrix(s, k, p, d, t, x) for s, k, p, d, t in zip(*geometry, taps)]
        #: ``(kh*kw, sh*th*sw*tw)``: kernel taps -> phase taps, both axes at once.
        self.mixer = (mh.view(sh * th, 1, kh, 1) * mw.view(1, sw * tw, 1, kw)).view(-1, kh * kw).t()
        self.scale_factor = scale_factor
        self.phases = []
        (ho, wo), shifts = self.out_size, (axes[0][2], axes[1][2])
        for ah in range(sh):
            for aw in range(sw):
                rows, columns = len(range(ah, ho, sh)), len(range(aw, wo, sw))
                target = (slice(ah, None, sh), slice(aw, None, sw))
                source = (slice(shifts[0][ah], shifts[0][ah] + rows),
                          slice(shifts[1][aw], shifts[1][aw] + columns), ah, aw)
                self.phases.append((target, source))

    def to_matrix(self, weight, bias):
        """The layer's ``weight`` and ``bias`` as one convolution computing every phase:
        a ``(th*tw*C_in, sh*sw*C_out)`` im2col weight matrix and an ``(sh*sw*C_out)`` bias."""
        (sh, sw), (th, tw), (o, c) = self.scale_factor, self.window.kernel, weight.shape[:2]
        mixed = weight.reshape(o * c, -1) @ self.mixer
        matrix = mixed.view(o, c, sh, th, sw, tw).permute(3, 5, 1, 2, 4, 0).reshape(-1, sh * sw * o)
        return matrix, None if bias is None else bias.repeat(sh * sw)

    def from_matrix(self, grad_matrix, grad_bias, weight_shape):
        """Adjoint of :meth:`to_matrix`: the gradients of the layer's ``weight`` and ``bias``
        from those of the phases' matrix and bias."""
        (sh, sw), (th, tw), (o, c) = self.scale_factor, self.window.kernel, weight_shape[:2]
        grad_mixed = grad_matrix.view(th, tw, c, sh, sw, o).permute(5, 2, 3, 0, 4, 1).reshape(o * c, -1)
        grad_weight = (grad_mixed @ self.mixer.t()).view(weight_shape)
        return grad_weight, None if grad_bias is None else grad_bias.view(sh * sw, o).sum(0)


class Upsampling(ConvBase):
    r"""Nearest-neighbour upsampling by ``scale_factor`` followed by a convolution.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        padding_mode: as :class:`Conv2d` (stride and groups must be 1).
        scale_factor (int or tuple, optional): integer upsampling factor. Default: 2

    Equals ``Conv2d(...)(NearestUpsampling(scale_factor=s)(x))`` with this module's
    ``weight`` (:math:`(C_{out}, C_{in}, kh, kw)`, Conv2d's initialisation) and ``bias``,
    but never builds the upsampled image: each of the :math:`s^2` output phases is a
    small convolution of the input whose taps are sums of the kernel's taps, and all
    phases run as one matrix product whose columns are pixel-shuffled into place.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`
        - Output: :math:`(N, C_{out}, sH + 2p - d(k-1), sW + 2p - d(k-1))`
    """

    _repr_head = ("scale_factor",)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, scale_factor=2):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         padding_mode)
        name = type(self).__name__
        only(self.stride, (1, 1), "stride", name)
        self.scale_factor = pair(scale_factor, "scale_factor", name, 1)
        self._plans = {}
        self._register_kernel((out_channels, in_channels, *self.kernel_size),
                              in_channels * self.kernel_size[0] * self.kernel_size[1], bias, device, dtype)

    def forward_then(self, x, then):
        """``forward(x)`` with ``then`` (a function or ``None``) applied in place to the whole
        output (see :meth:`.ConvBase.forward_then`)."""
        x = check_input(self, x, self.in_channels)
        plan = kept_plan(self._plans, x, self.scale_factor, self.kernel_size, self.padding, self.dilation, repr(self))
        out, cache = upsampled_convolution(x, self.weight, self.bias, plan, self.algorithm, self.compute_dtype)
        if then is not None:
            then(out)
        self._save(_x=x, _cache=cache)
        return out

    def backward(self, grad_output):
        x, cache = self._saved("_x", "_cache")
        grad_output = check_grad_output(self, grad_output, (x.shape[0], self.out_channels, *cache[0].out_size), x)
        grad_x, grad_weight, grad_bias = upsampled_convolution_backward(grad_output, cache)
        self._accumulate(grad_weight, grad_bias)
        return grad_x


def kept_plan(plans, x, scale_factor, kernel_size, padding, dilation, what):
    """The :class:`UpsamplingPlan` for ``x``, made once per input size, dtype and device and
    kept in ``plans`` (a dict its caller owns)."""
    key = (tuple(x.shape[2:]), x.dtype, x.device)
    if key not in plans:
        plans[key] = UpsamplingPlan(scale_factor, kernel_size, padding, dilation, x, what)
    return plans[key]


def upsampled_convolution(x, weight, bias, plan, algorithm="auto", compute=None):
    """``conv2d(upsample_nearest(x))`` with torch's ``weight`` ``(C_out, C_in, kh, kw)`` and
    ``bias``, as ``plan`` (an :class:`UpsamplingPlan` for ``x``) lays it out: every phase in
    one convolution of ``x`` (its products in ``compute``, see :mod:`..kernels.conv_kernels`), its
    columns pixel-shuffled into place. Returns the
    channels-last output as an NCHW-shaped view, and the cache
    :func:`upsampled_convolution_backward` needs."""
    n, o, window = x.shape[0], weight.shape[0], plan.window
    (sh, sw) = plan.scale_factor
    matrix, phase_bias = plan.to_matrix(weight, bias)
    z, cache = convolution_nhwc(x, matrix, phase_bias, window, algorithm=algorithm, compute=compute)
    z = z.view(n, *window.out_size, sh, sw, o)
    out = z.new_empty((n, *plan.out_size, o))
    for target, source in plan.phases:
        out[:, target[0], target[1]] = z[:, source[0], source[1], source[2], source[3]]
    return nchw(out), (plan, cache, weight.shape)


def upsampled_convolution_backward(grad_output, cache):
    """Gradients of :func:`upsampled_convolution` for an NCHW-shaped ``grad_output`` (any
    layout): ``(grad_x, grad_weight, grad_bias)``, ``grad_x`` an NCHW-shaped view of a
    channels-last tensor, ``grad_bias`` ``None`` without a bias."""
    plan, conv_cache, weight_shape = cache
    window = plan.window
    n, o = grad_output.shape[:2]
    (sh, sw) = plan.scale_factor
    grad = grad_output.permute(0, 2, 3, 1)
    # Window positions a phase does not use were computed but discarded: zero gradient.
    phases = grad.new_empty((n, *window.out_size, sh, sw, o)).zero_()
    for target, source in plan.phases:
        phases[:, source[0], source[1], source[2], source[3]] = grad[:, target[0], target[1]]
    grad_x, grad_matrix, grad_bias = convolution_nhwc_backward(phases.view(n, *window.out_size, -1), conv_cache)
    return (nchw(grad_x), *plan.from_matrix(grad_matrix, grad_bias, weight_shape))
