"""The denoisers' configuration: its keys, defaults and the checks every value must pass.

``arch`` picks the network and its defaults: ``"simple"`` is the course's required shape
(:data:`DEFAULT_CONFIG`), ``"deep"`` the U-Net (:data:`DEEP_CONFIG`). Miniproject_1's
torch.nn twin takes the same keys and is checked by :func:`check_config` too, so a value
one model refuses the other refuses as well, whether it comes from a caller or from a
checkpoint.
"""
import math

import torch

from .args import shown
from ..kernels.precision import check_precision

#: The committed checkpoint was trained with this configuration; its last two epochs ran at
#: lr 3e-4, which the configuration saved in it keeps for further training.
DEFAULT_CONFIG = {
    "arch": "simple",
    "channels": (48, 96),
    "kernel_down": 2,
    "padding_down": 0,
    "kernel_up": 5,
    "padding_up": 2,
    "optimizer": "adam",
    "lr": 3e-3,
    "momentum": 0.9,
    "batch_size": 32,
    "skip": "concat",
    "seed": 0,
    "device": None,
    "precision": "fp32",
}

#: The deep denoiser's: ``channels`` holds the width of each level of the U-Net (full size,
#: 1/2, 1/4...), ``skip`` how a level joins the one below; the kernel and padding keys do
#: not apply to it.
DEEP_CONFIG = {**DEFAULT_CONFIG, "arch": "deep", "channels": (48, 48, 48), "lr": 1e-3}
CONFIGS = {"simple": DEFAULT_CONFIG, "deep": DEEP_CONFIG}
#: The U-Net's levels: one to five resolutions; and how a level joins the one below.
DEPTHS = range(1, 6)
SKIPS = ("concat", "add")

#: Above this, an optimizer's step size no longer fits in float32 (Adam multiplies lr by
#: 1 / (1 - beta1) = 10 on its first step): torch would fail inside the step.
MAX_LR = 1e30
#: The range torch.manual_seed accepts.
SEEDS = range(-(1 << 63), 1 << 64)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_config(config, owner="Model", complete=False):
    """The defaults of ``config["arch"]`` overridden by ``config``, every value checked;
    ``ValueError`` names the bad one.

    ``complete=True`` (a checkpoint's configuration) also refuses a missing key, except
    ``arch`` and ``skip``, which checkpoints written before the deep model lack (they hold
    the simple network), and ``precision``, which those written before mixed precision lack.
    Returns the full configuration with ``channels`` as a tuple and ``device`` as a string
    (or None).
    """
    if not isinstance(config, dict):
        raise ValueError(f"{owner}: the configuration must be a dict, got {type(config).__name__}")
    arch = config.get("arch", "simple")
    if not isinstance(arch, str) or arch not in CONFIGS:
        raise ValueError(f"{owner}: arch must be one of {sorted(CONFIGS)}, got {shown(arch)}")
    defaults = CONFIGS[arch]
    unknown = sorted(str(key) for key in set(config) - set(defaults))
    if unknown:
        raise ValueError(f"{owner}: unknown configuration keys {unknown}; known: {sorted(defaults)}")
    missing = sorted(set(defaults) - set(config) - {"arch", "skip", "precision"}) if complete else []
    if missing:
        raise ValueError(f"{owner}: configuration keys {missing} are missing")
    config = {**defaults, **config}

    def bad(key, expected):
        return ValueError(f"{owner}: {key} must be {expected}, got {shown(config[key])}")

    channels = config["channels"]
    counts = (2,) if arch == "simple" else DEPTHS
    if not (isinstance(channels, (tuple, list)) and len(channels) in counts
            and all(_is_int(c) and c > 0 for c in channels)):
        raise bad("channels", "two positive ints" if arch == "simple"
                  else f"{DEPTHS.start} to {DEPTHS.stop - 1} positive ints (one width per level)")
    config["channels"] = tuple(channels)
    if config["skip"] not in SKIPS:
        raise bad("skip", f"one of {SKIPS}")
    if config["skip"] == "add" and len(set(channels)) > 1:
        raise ValueError(f"{owner}: skip='add' sums levels, so every level's width must be the same, "
                         f"got channels={shown(channels)}")
    for key in ("kernel_down", "kernel_up", "batch_size"):
        if not (_is_int(config[key]) and config[key] > 0):
            raise bad(key, "a positive int")
    for key in ("padding_down", "padding_up"):
        if not (_is_int(config[key]) and config[key] >= 0):
            raise bad(key, "a non-negative int")
    # Without these two identities the output would not have the input's size.
    if config["kernel_down"] - 2 * config["padding_down"] not in (1, 2):
        raise ValueError(f"{owner}: kernel_down - 2 * padding_down must be 1 or 2 so that a stride-2 "
                         f"convolution halves even sizes exactly, got kernel_down={shown(config['kernel_down'])}, "
                         f"padding_down={shown(config['padding_down'])}")
    if config["kernel_up"] != 2 * config["padding_up"] + 1:
        raise ValueError(f"{owner}: kernel_up must equal 2 * padding_up + 1 so that the convolution after "
                         f"each upsampling keeps the size, got kernel_up={shown(config['kernel_up'])}, "
                         f"padding_up={shown(config['padding_up'])}")
    if config["optimizer"] not in ("adam", "sgd"):
        raise bad("optimizer", "'adam' or 'sgd'")
    if not (_is_number(config["lr"]) and 0 < config["lr"] <= MAX_LR):
        raise bad("lr", f"a positive number no larger than {MAX_LR:g}")
    if not (_is_number(config["momentum"]) and 0 <= config["momentum"] < 1):
        raise bad("momentum", "a number in [0, 1)")
    if not (_is_int(config["seed"]) and config["seed"] in SEEDS):
        raise bad("seed", "an int in [-2**63, 2**64)")
    check_precision(config["precision"], owner)
    device = config["device"]
    if device is not None:
        try:
            config["device"] = str(torch.device(device))
        except (RuntimeError, TypeError, ValueError) as error:
            raise ValueError(f"{owner}: device {shown(device)} is not a torch device: "
                             f"{str(error).splitlines()[0]}") from None
    return config


def check_count(value, name, owner):
    """A count such as ``num_epochs``: a non-negative int (``True`` is not one)."""
    if not (_is_int(value) and value >= 0):
        raise ValueError(f"{owner}: {name} must be a non-negative int, got {shown(value)}")
    return value
