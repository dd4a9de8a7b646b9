"""What the framework tests share: memory layouts, torch twins of our modules, the
comparison with ``torch.autograd``, the ``gradcheck`` adapter, the run report and a
linear stand-in denoiser."""
import contextlib
import re

import torch
import torch.nn.functional as F

from Miniproject_2.others import (AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling, ReLU, Residual,
                                  Sequential, Sigmoid, SkipConcat, TransposeConv2d, Upsampling)

# Every layer must give the same numbers whatever the memory layout of its input:
# contiguous NCHW takes the exact path, channels-last the fast one, and the last two
# are strided views that are neither (they must be handled, not misread).
LAYOUTS = ("contiguous", "channels_last", "transposed", "sliced")

# float64 leaves only reordering error (a few ulp of the partial sums) between our
# hand-written gradients and autograd's.
TOLERANCE = {"rtol": 1e-10, "atol": 1e-12}

REPORTS = []


#: A progress line of Progress's "lines" mode (what a command writes to stderr off a terminal).
PROGRESS_LINE = re.compile(r"^[^:]+: [\d,.]+/[\d,.]+( \w+)?( loss [\d.]+)? [\d,.]+ \w+/s$")


def message_lines(err):
    """The lines of a command's stderr that are not progress lines."""
    return [line for line in err.strip().splitlines() if not PROGRESS_LINE.match(line)]


def report(title, lines):
    """Record measurements for the terminal summary (see conftest.py) and print them."""
    REPORTS.append((title, list(lines)))
    print(title, *lines, sep="\n")


@contextlib.contextmanager
def single_thread():
    """Run on one intra-op thread.

    The framework tests use small tensors, for which a second thread only adds
    synchronisation: on a loaded 2-core machine that costs milliseconds per op
    (F.unfold of a 2x2x5x4 tensor: 0.07 ms on one thread, ~10 ms on two). Both sides
    of every comparison run under the same setting.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def as_layout(x, layout):
    """A copy of ``x`` (at least 2-D; 4-D for channels-last) stored in ``layout``."""
    if layout == "contiguous":
        return x.clone(memory_format=torch.contiguous_format)
    if layout == "channels_last":
        return x.clone(memory_format=torch.channels_last)
    if layout == "transposed":
        return x.transpose(-2, -1).contiguous().transpose(-2, -1)
    if layout == "sliced":
        # The skipped elements are NaN, so reading memory outside the view poisons the result.
        wide = x.new_empty((*x.shape[:-1], 2 * x.shape[-1])).fill_(float("nan"))
        wide[..., ::2] = x
        return wide[..., ::2]
    raise ValueError(f"unknown layout {layout!r}")


_FUNCTIONAL = {
    Conv2d: lambda m, x, weight, bias=None: F.conv2d(x, weight, bias, m.stride, m.padding, m.dilation),
    TransposeConv2d: lambda m, x, weight, bias=None: F.conv_transpose2d(
        x, weight, bias, m.stride, m.padding, m.output_padding, 1, m.dilation),
    Upsampling: lambda m, x, weight, bias=None: F.conv2d(
        F.interpolate(x, scale_factor=m.scale_factor, mode="nearest"), weight, bias, 1, m.padding, m.dilation),
    NearestUpsampling: lambda m, x: F.interpolate(x, size=m.size, scale_factor=m.scale_factor, mode="nearest"),
    ReLU: lambda m, x: torch.relu(x),
    Sigmoid: lambda m, x: torch.sigmoid(x),
}


# Parameter-free layers whose twin is torch's own module, built from our attributes: this
# also checks that they mean what torch's arguments of the same names mean.
_TORCH_MODULE = {
    LeakyReLU: lambda m: torch.nn.LeakyReLU(m.negative_slope),
    MaxPool2d: lambda m: torch.nn.MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation),
    AvgPool2d: lambda m: torch.nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                            m.count_include_pad, m.divisor_override),
}


class _ResidualTwin(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return x + self.inner(x)


class _SkipConcatTwin(_ResidualTwin):
    def forward(self, x):
        return torch.cat([x, self.inner(x)], 1)


class Twin(torch.nn.Module):
    """The torch.nn twin of one of our layers: parameters of the same names and shapes,
    forward written with torch.nn.functional and differentiated by autograd."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        for name, tensor in module.state_dict().items():
            self.register_parameter(name, torch.nn.Parameter(torch.empty_like(tensor)))

    def forward(self, x):
        return _FUNCTIONAL[type(self.module)](self.module, x, **dict(self.named_parameters()))


def twin(module):
    """A torch.nn model computing what ``module`` computes, loaded from its state_dict."""
    def build(m):
        if isinstance(m, Sequential):
            return torch.nn.Sequential(*(build(child) for child in m))
        if isinstance(m, (Residual, SkipConcat)):
            return (_ResidualTwin if isinstance(m, Residual) else _SkipConcatTwin)(build(m.inner))
        if type(m) in _TORCH_MODULE:
            return _TORCH_MODULE[type(m)](m)
        return Twin(m)
    model = build(module)
    model.load_state_dict(module.state_dict())
    return model


def check_against_autograd(module, x, layout="contiguous", grad_layout="contiguous"):
    """Assert that ``module`` matches autograd on ``x`` in float64.

    ``x`` (logical NCHW; any shape for the activations) is presented in ``layout``
    (see :func:`as_layout` for which layouts a shape allows); the upstream gradient is random and
    stored in ``grad_layout``. Compared: the output, the input gradient and every parameter
    gradient (by state_dict name). Neither ``x`` nor the upstream gradient may be modified.
    """
    module.to(dtype=torch.float64)
    module.zero_grad()
    reference = twin(module)
    x = x.to(torch.float64)
    x_in = as_layout(x, layout)
    y = module.forward(x_in)
    grad_output = as_layout(torch.randn(y.shape, dtype=torch.float64, device=y.device), grad_layout)
    upstream = grad_output.clone()
    grad_input = module.backward(grad_output)

    x_ref = x.clone().requires_grad_()
    y_ref = reference(x_ref)
    y_ref.backward(upstream)
    torch.testing.assert_close(y, y_ref.detach(), **TOLERANCE, msg=lambda m: f"forward: {m}")
    torch.testing.assert_close(grad_input, x_ref.grad, **TOLERANCE, msg=lambda m: f"input grad: {m}")
    ours = {name: grad for name, _, grad in module.named_param()}
    theirs = {name: p.grad for name, p in reference.named_parameters()}
    assert list(ours) == list(theirs)
    for name, grad in ours.items():
        torch.testing.assert_close(grad, theirs[name], **TOLERANCE, msg=lambda m, name=name: f"{name} grad: {m}")
    assert torch.equal(x_in, x), "forward/backward modified the input"
    assert torch.equal(grad_output, upstream), "backward modified grad_output"


#: bfloat16's unit roundoff (an 8-bit significand, rounded to nearest) and float32's.
BF16_ROUNDOFF, FP32_ROUNDOFF = 2.0 ** -8, 2.0 ** -24


def bf16_bound(reductions, depth=1):
    """Relative error bound of ``depth`` chained bf16 products, each summing at most
    ``reductions`` terms.

    One product ``sum_k a_k b_k`` in mixed precision rounds both operands to bfloat16 and
    its result once more (a factor ``(1 + u)**3``, ``u = 2**-8``); the matrix kernel's
    accumulation, the float32 sums of blocks, of col2im's taps and the bias add at most
    ``reductions + 2`` float32 roundings (``(1 + v)**(reductions + 2)``, ``v = 2**-24``).
    Every rounding error is relative to a term of ``sum_k |a_k| |b_k|``, so
    ``|computed - exact| <= c * sum_k |a_k| |b_k|``, with ``c`` this bound for one product;
    a chain of ``depth`` products, each reading the last one's rounded output, compounds
    to ``(1 + c)**depth - 1``.
    """
    one = (1 + BF16_ROUNDOFF) ** 3 * (1 + FP32_ROUNDOFF) ** (reductions + 2) - 1
    return (1 + one) ** depth - 1


def check_bf16_against_autograd(module, x, depth=1, layout="channels_last", grad_layout="contiguous"):
    """Assert that ``module``, its convolutions computing in bf16, is within
    :func:`bf16_bound` of float64 autograd on ``x``: the output, the input gradient and every
    parameter gradient, for a random upstream gradient. ``module`` must be multilinear in its
    input and parameters (convolutions, nearest upsampling, joins: no activation), so that
    the same network on ``|x|``, ``|weights|`` and ``|upstream|`` gives each number's
    ``sum |a| |b|``. Returns the largest ratio of an error to its bound (at most 1)."""
    module.to(dtype=torch.float32)
    # Every convolution, the one reading the picture too (set_precision keeps it in float32).
    for current in module.modules():
        if hasattr(current, "compute_dtype"):
            current.compute_dtype = torch.bfloat16
    module.zero_grad()
    x = x.to(torch.float32)
    y = module.forward(as_layout(x, layout))
    upstream = torch.randn(y.shape, device=y.device)
    grad_input = module.backward(as_layout(upstream, grad_layout))
    bound = bf16_bound(x.numel() + y.numel(), depth)

    results = {}
    for kind, sign in (("exact", lambda t: t), ("magnitude", torch.abs)):
        reference = twin(module).double()
        with torch.no_grad():
            for parameter in reference.parameters():
                parameter.copy_(sign(parameter))
        x_ref = sign(x.double()).requires_grad_()
        y_ref = reference(x_ref)
        y_ref.backward(sign(upstream.double()))
        results[kind] = {"forward": y_ref.detach(), "input grad": x_ref.grad,
                         **{f"{name} grad": p.grad for name, p in reference.named_parameters()}}
    ours = {"forward": y, "input grad": grad_input, **{f"{name} grad": grad for name, _, grad in module.named_param()}}
    assert list(ours) == list(results["exact"])
    worst = 0.0
    for what, value in ours.items():
        error = (value.double() - results["exact"][what]).abs()
        allowed = bound * results["magnitude"][what]
        assert bool(torch.isfinite(value).all()), f"{what}: not finite"
        excess = (error - allowed).max().item() if error.numel() else 0.0
        assert excess <= 1e-300, f"{what}: error exceeds the bf16 bound ({bound:.3g} relative) by {excess:.3g}"
        if error.numel():
            worst = max(worst, (error / allowed.clamp(min=1e-300)).max().item())
    return worst


class _Adapter(torch.autograd.Function):
    """Our module as an autograd function of its input and parameters."""

    @staticmethod
    def forward(ctx, module, x, *params):
        ctx.module = module
        ctx.save_for_backward(x, *params)
        return _forward_at(module, x, params).clone()

    @staticmethod
    def backward(ctx, grad_output):
        x, *params = ctx.saved_tensors
        # gradcheck evaluates forward at perturbed points after this output was made, so
        # what the module saved belongs to another point: recompute it here.
        _forward_at(ctx.module, x, params)
        ctx.module.zero_grad()
        grad_x = ctx.module.backward(grad_output)
        return (None, grad_x, *(grad.clone() for _, grad in ctx.module.param()))


def box_denoiser(width):
    """A linear denoiser with the ``denoise(images, into)`` signature of
    ``shrinkage.shrink_to_input``: the mean over a ``width`` x ``width`` window, its own
    pixel weighing ``1 / width**2``."""
    def denoise(images, into):
        into.copy_(F.avg_pool2d(images.to(into.device).float(), width, 1, width // 2, count_include_pad=False))
        return into
    return denoise


def gaussian_noise(shape, sigma, seed=0):
    """White Gaussian noise of standard deviation ``sigma``, the same for the same ``seed``."""
    return sigma * torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def blurred_noise(shape, sigma, seed=0):
    """Noise correlated over a few pixels, as a camera leaves it: white noise blurred by a
    5 x 5 box, scaled back to ``sigma``."""
    blurred = F.avg_pool2d(gaussian_noise(shape, 1.0, seed), 5, stride=1, padding=2, count_include_pad=False)
    return blurred * (sigma / blurred.std())


def _forward_at(module, x, params):
    for (tensor, _), value in zip(module.param(), params):
        tensor.copy_(value)
    return module.forward(x)


def gradcheck_module(module, x):
    """``torch.autograd.gradcheck`` of ``module`` with respect to ``x`` and all its parameters."""
    module.to(dtype=torch.float64)
    params = [tensor.detach().clone().requires_grad_() for tensor, _ in module.param()]
    x = x.detach().to(torch.float64).requires_grad_()  # .to keeps x's memory layout
    return torch.autograd.gradcheck(lambda x, *p: _Adapter.apply(module, x, *p), (x, *params))


def smooth_pictures(n, channels, height, width, seed=0):
    """uint8 pictures like photos' crops: smooth colour gradients plus a little texture, away from 0 and 255."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, 3, 3, generator=generator)
    smooth = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=True)
    texture = torch.rand(n, channels, height, width, generator=generator) * 0.02
    return (smooth * 0.8 + texture + 0.05).mul(255).round().clamp(0, 255).to(torch.uint8)
