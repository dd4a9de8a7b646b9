"""A U-Net level's join, ``conv(cat([x, upsample(low)]))``, computed without building either."""
import torch

from ..plumbing.args import check_grad_output, check_input
from .conv2d import Conv2d
from ..kernels.conv_kernels import convolution, convolution_backward
from .sequential import Sequential, run_chain
from .skip import SkipConcat
from .upsampling import NearestUpsampling, kept_plan, upsampled_convolution, upsampled_convolution_backward


class ConcatJoin(Sequential):
    r"""``Sequential(SkipConcat(inner), Conv2d(...), *rest)`` whose first two modules run as one step.

    ``inner`` is a :class:`~.sequential.Sequential` that ends with
    :class:`~.upsampling.NearestUpsampling` by integer factors, so the convolution reads
    ``cat([x, upsample(low)])`` with ``low`` what the rest of ``inner`` makes of ``x``.
    Split along its input channels, the convolution's weight ``[W_x, W_low]`` gives
    ``conv(x, W_x) + conv(upsample(low), W_low)``: an ordinary convolution of ``x``, plus
    the phase convolution of :class:`~.upsampling.Upsampling` on ``low`` at its own
    resolution (a 3x3 kernel after x2 upsampling reads 4 pixels of ``low`` where it
    would read 9 of the upsampled picture). Neither the concatenation nor the upsampled
    picture is built, and their copies and gradients are saved.

    The modules, their parameters and their ``state_dict`` names are the plain
    Sequential's, which computes the same numbers up to rounding; ``SkipConcat``,
    ``NearestUpsampling`` and the convolution's own forward and backward are not run (the
    modules of ``inner`` before its upsampling, and those after the convolution, are).

    Shape:
        - Input: :math:`(N, C, H, W)`. Output: that of the plain Sequential.
    """

    def __init__(self, *modules):
        super().__init__(*modules)
        skip, conv = (modules + (None, None))[:2]
        inner = getattr(skip, "inner", None)
        if not (isinstance(skip, SkipConcat) and isinstance(conv, Conv2d) and isinstance(inner, Sequential)
                and len(inner) > 0 and isinstance(inner[-1], NearestUpsampling)):
            raise ValueError("ConcatJoin: expected SkipConcat(Sequential(..., NearestUpsampling)) then Conv2d, "
                             f"got {', '.join(type(m).__name__ for m in modules[:2])}")
        up = inner[-1]
        if up.size is not None or not all(f == int(f) for f in up.scale_factor) or conv.stride != (1, 1):
            raise ValueError(f"ConcatJoin: needs an integer scale_factor and a stride-1 convolution, got {up!r} "
                             f"and {conv!r}")
        self._scale, self._plans = tuple(int(f) for f in up.scale_factor), {}

    def forward(self, x):
        x = check_input(self, x, None)
        conv, body = self.layers[1], self.layers[0].inner[:-1]
        low = run_chain(body, x)
        c = x.shape[1]
        if low.dim() != 4 or low.shape[0] != x.shape[0] or c + low.shape[1] != conv.in_channels:
            raise ValueError(f"{type(self).__name__}: the input {tuple(x.shape)} and the branch's "
                             f"{tuple(low.shape)} do not give {conv!r} its {conv.in_channels} channels")
        window = conv._window(x)
        plan = kept_plan(self._plans, low, self._scale, conv.kernel_size, conv.padding, conv.dilation, repr(self))
        if plan.out_size != window.out_size:
            raise ValueError(f"{type(self).__name__}: the upsampled branch {tuple(low.shape)} does not match the "
                             f"input's size {tuple(x.shape[2:])}")
        y, low_cache = upsampled_convolution(low, conv.weight[:, c:], None, plan, conv.algorithm, conv.compute_dtype)
        y_x, x_cache = convolution(x, conv.weight[:, :c], conv.bias, window, algorithm=conv.algorithm,
                                   compute=conv.compute_dtype)
        # y is fresh, channels-last memory: the sum stays in the layout the next layer reads.
        y.add_(y_x)
        self._save(_like=x.new_empty(0), _shape=y.shape, _caches=(x_cache, low_cache))
        return run_chain(self.layers[2:], y, fresh=True)

    def backward(self, grad_output):
        for module in reversed(self.layers[2:]):
            grad_output = module.backward(grad_output)
        like, shape, (x_cache, low_cache) = self._saved("_like", "_shape", "_caches")
        grad_output = check_grad_output(self, grad_output, shape, like)
        conv, body = self.layers[1], self.layers[0].inner[:-1]
        grad_x, grad_weight_x, grad_bias = convolution_backward(grad_output, x_cache)
        grad_low, grad_weight_low, _ = upsampled_convolution_backward(grad_output, low_cache)
        conv._accumulate(torch.cat([grad_weight_x, grad_weight_low], 1), grad_bias)
        for module in reversed(body):
            grad_low = module.backward(grad_low)
        return grad_x + grad_low
