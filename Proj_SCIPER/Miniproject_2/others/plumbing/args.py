"""Argument normalisation and input checks shared by the layers."""
import math

#: Sizes and counts above this cannot be a tensor's dimension (torch's kernels take them as
#: 32-bit ints) and would fail deep inside torch.
LARGEST = 2 ** 31 - 1


def shown(value):
    """``repr(value)`` on one short line, for error messages (a tensor's repr spans lines)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


def pair(value, name, owner, minimum):
    """``int`` or 2-sequence -> ``(h, w)`` tuple of ints >= ``minimum``, else ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {shown(value)}")
    try:
        h, w = (value, value) if isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {shown(value)}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (h, w)):
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {shown(value)}")
    if h < minimum or w < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {shown(value)}")
    if h > LARGEST or w > LARGEST:
        raise ValueError(f"{owner}: {name} must be <= {LARGEST}, got {shown(value)}")
    return (h, w)


def positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {shown(value)}")
    if value > LARGEST:
        raise ValueError(f"{owner}: {name} must be <= {LARGEST}, got {shown(value)}")
    return value


def only(value, supported, name, owner):
    """Reject an argument value this framework does not implement, rather than ignore it."""
    if value != supported:
        raise ValueError(f"{owner}: {name}={shown(value)} is not supported (only {name}={shown(supported)})")
    return value


def check_input(module, x, channels):
    """A floating ``(N, channels, H, W)`` tensor with H, W >= 1 on the weight's device and dtype.

    Returns it detached (see :func:`check_tensor`).
    """
    x = check_tensor(module, x)
    if x.dim() != 4:
        raise ValueError(f"{module!r}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{module!r}: expected {channels} input channels, got {x.shape[1]} (input shape {tuple(x.shape)})"
        )
    if min(x.shape[2:]) < 1:
        raise ValueError(f"{module!r}: expected an input of height and width >= 1, got shape {tuple(x.shape)}")
    weight = getattr(module, "weight", None)
    if weight is not None and (x.dtype != weight.dtype or x.device != weight.device):
        raise TypeError(
            f"{module!r}: input is {x.dtype} on {x.device} but the weight is {weight.dtype} on "
            f"{weight.device}; move the module with .to(device, dtype)"
        )
    return x


def check_grad_output(module, grad_output, expected, like):
    """``grad_output`` must have exactly the output's shape, dtype and device (those of
    ``like``): broadcasting one of another shape would silently give a wrong gradient, and
    another dtype would give a gradient of a type no parameter has. Returns it detached."""
    if not hasattr(grad_output, "detach"):
        raise TypeError(f"{module!r}: grad_output must be a torch.Tensor, got {type(grad_output).__name__}")
    shape = tuple(grad_output.shape)
    if shape != tuple(expected):
        raise ValueError(f"{module!r}: grad_output has shape {shape}, expected {tuple(expected)}")
    if grad_output.dtype != like.dtype or grad_output.device != like.device:
        raise TypeError(f"{module!r}: grad_output is {grad_output.dtype} on {grad_output.device}, but forward "
                        f"ran in {like.dtype} on {like.device}")
    return grad_output.detach()


def check_tensor(module, x):
    """A floating point tensor of any shape, returned detached: this framework computes its
    own gradients, so a caller's autograd graph must not grow through it (nor reach the
    weights through the gradients it accumulates)."""
    if not hasattr(x, "is_floating_point"):
        raise TypeError(f"{module!r}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{module!r}: expected a floating point input, got {x.dtype}")
    return x.detach()


def check_number(value, name, owner, low=0.0, high=math.inf, high_open=False):
    """A real number (not a bool or a string) in ``[low, high]`` (``[low, high)`` if ``high_open``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or value > high or (high_open and value == high):
        bracket = ")" if high_open else "]"
        raise ValueError(f"{owner}: {name} must be a number in [{low:g}, {high:g}{bracket}, got {shown(value)}")
    return value
