"""Argument normalisation and input checks shared by the layers."""


def pair(value, name, owner, minimum):
    """``int`` or 2-sequence -> ``(h, w)`` tuple of ints >= ``minimum``, else ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    try:
        h, w = (value, value) if isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (h, w)):
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    if h < minimum or w < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return (h, w)


def positive_int(value, name, owner):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


def only(value, supported, name, owner):
    """Reject an argument value this framework does not implement, rather than ignore it."""
    if value != supported:
        raise ValueError(f"{owner}: {name}={value!r} is not supported (only {name}={supported!r})")
    return value


def check_input(module, x, channels):
    """A floating ``(N, channels, H, W)`` tensor on the weight's device and dtype."""
    check_tensor(module, x)
    if x.dim() != 4:
        raise ValueError(f"{module!r}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{module!r}: expected {channels} input channels, got {x.shape[1]} (input shape {tuple(x.shape)})"
        )
    weight = getattr(module, "weight", None)
    if weight is not None and (x.dtype != weight.dtype or x.device != weight.device):
        raise TypeError(
            f"{module!r}: input is {x.dtype} on {x.device} but the weight is {weight.dtype} on "
            f"{weight.device}; move the module with .to(device, dtype)"
        )


def check_grad_output(module, grad_output, expected):
    """``grad_output`` must have exactly the output's shape: broadcasting one of another
    shape would silently give a wrong gradient."""
    shape = tuple(grad_output.shape)
    if shape != tuple(expected):
        raise ValueError(f"{module!r}: grad_output has shape {shape}, expected {tuple(expected)}")


def check_tensor(module, x):
    """A floating point tensor of any shape."""
    if not hasattr(x, "is_floating_point"):
        raise TypeError(f"{module!r}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{module!r}: expected a floating point input, got {x.dtype}")
