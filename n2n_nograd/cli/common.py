"""What the ``n2n`` commands share: exit statuses, argument types, the committed models,
and the options several commands take."""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

from ..device import CHOICES as DEVICE_CHOICES, PRECISION_CHOICES

IMPLEMENTATIONS = {"nograd": "Miniproject_2.model", "torch": "Miniproject_1.model"}

# Exit statuses, one per kind of failure (documented in `n2n --help` and the README).
EXIT_DIVERGED = 1
EXIT_ERROR = 2
EXIT_IO = 3
EXIT_COLLAPSED = 4
EXIT_INTERRUPTED = 130
EXIT_STATUSES = """\
exit statuses:
  0    success
  1    train: the loss or the weights stopped being finite (the checkpoint keeps
       the last finished epoch)
  2    bad arguments, input files or checkpoints (a one-line message says which)
  3    a file could not be read or written (disk full, permissions, ...)
  4    train: the model collapsed (validation PSNR fell far below its best and
       below the noisy input's)
  130  interrupted (Ctrl-C)
"""


class CliError(Exception):
    """A problem to report in one line, without a traceback."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def channels_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(positive_int(part) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be comma-separated positive ints, got {text!r}") from None


def seed_value(text: str) -> int:
    from Miniproject_2.others.plumbing.config import SEEDS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value not in SEEDS:
        raise argparse.ArgumentTypeError(f"must be in [-2**63, 2**64), got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


#: Configurations worth naming.  "seed" is the seed report's: 64/128 channels, 6x6
#: stride-2 convolutions with padding 2, 7x7 up-convolutions with padding 3, plain SGD
#: with learning rate 0.01 and batch 10.  "deep" is the U-Net (``Model(arch="deep")``).
PRESETS = {
    "default": {},
    "deep": {"arch": "deep"},
    "seed": {"channels": (64, 128), "kernel_down": 6, "padding_down": 2, "kernel_up": 7,
             "padding_up": 3, "optimizer": "sgd", "lr": 0.01, "momentum": 0.0, "batch_size": 10},
}


def model_class_for(impl: str):
    module_name = IMPLEMENTATIONS[impl]
    try:
        return importlib.import_module(module_name).Model
    except ImportError as exc:
        raise CliError(f"cannot import {module_name} ({exc}); run from the repository root "
                       "or install the package") from exc


#: ``--model`` names for the committed networks (``arch`` of the models); camera is the deep
#: network fine-tuned on a camera's noise (Miniproject_2's CAMERA_CHECKPOINT); auto is the
#: camera model, or the deep one for pictures whose noise is white (n2n_nograd/route.py).
MODELS = {"required": "simple", "deep": "deep", "camera": "deep", "auto": "deep"}


def load_model(impl: str, checkpoint: str | None, device: str, model: str = "required", precision: str = "fp32"):
    """A model computing in ``precision`` with the weights of ``checkpoint``, or the committed
    pretrained ones of ``model`` (a :data:`MODELS` name; a checkpoint names its own network,
    and is used alone under auto)."""
    name = model
    if name == "auto" and checkpoint is None:
        from ..route import Router
        return Router(*(load_model(impl, None, device, kind, precision) for kind in ("camera", "deep")))
    model = model_class_for(impl)(device=device, arch=MODELS[name], precision=precision)
    if checkpoint is None and name == "camera":
        if impl != "nograd":
            raise CliError("the camera model is trained with the autograd-free framework only: "
                           "use --impl nograd, or --model deep")
        checkpoint = importlib.import_module("Miniproject_2.model").CAMERA_CHECKPOINT
    try:
        if checkpoint is None:
            model.load_pretrained_model()
        else:
            model.load_model(checkpoint)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from exc
    return model


def ensemble_note(ensemble: int) -> str:
    return f", mean over {ensemble} flips/rotations" if ensemble > 1 else ""


def sigma_list(text: str) -> tuple[float, ...]:
    from ..evaluation import parse_sigmas

    try:
        return parse_sigmas(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def jpeg_quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"--quality must be an integer from 1 to 100, got {text!r}")
    return value


def strength_value(text: str) -> float | str:
    """A number within ``predict``'s range, or ``auto``."""
    from Miniproject_2.others.denoisers.strength import check_strength

    try:
        value = float(text)
    except ValueError:
        value = text
    try:
        return check_strength(value, "--strength")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def strength_label(strength: float | str) -> str:
    """How a strength is named in tables: ``auto``, or the number as short as it goes."""
    return strength if strength == "auto" else f"{strength:g}"


def strength_list(text: str) -> tuple[float | str, ...]:
    return tuple(strength_value(part) for part in text.split(","))


def wrap(text: str) -> str:
    """Wrap a description by hand: the raw formatter keeps the epilogs' layout but wraps nothing."""
    return textwrap.fill(" ".join(text.split()), width=79)


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    # Checked when the command runs, so that a bad or missing device is one error line.
    parser.add_argument("--device", default="auto", metavar="DEVICE",
                        help=f"{DEVICE_CHOICES}: where to compute; auto takes the GPU when torch "
                             "sees one (default: auto)")


def add_precision_option(parser: argparse.ArgumentParser, default: str | None = "fp32") -> None:
    kept = "the run's own on --resume, else fp32" if default is None else default
    parser.add_argument("--precision", choices=PRECISION_CHOICES, default=default,
                        help="fp32, or bf16: the convolutions' products in bfloat16, several times faster "
                             "on CPUs with AMX or AVX512-BF16 and on recent GPUs, for pictures within "
                             "0.05 dB; auto: bf16 where the hardware has bfloat16 matrix units "
                             f"(default: {kept})")


def warn(command: str):
    """A function printing a one-line note of ``n2n command`` on stderr."""
    return lambda line: print(f"n2n {command}: note: {line}", file=sys.stderr)


def add_impl_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), default="nograd",
                        help="implementation that wrote the checkpoint (default: nograd)")


def add_ensemble_option(parser: argparse.ArgumentParser) -> None:
    from Miniproject_2.others.denoisers.ensemble import ENSEMBLES

    parser.add_argument("--ensemble", type=int, choices=ENSEMBLES, default=1, metavar="N",
                        help="average the model over N flips/rotations of each picture (1, 2, 4 or 8): "
                             "N times the time, for about 0.4 dB more with 8 on the deep model "
                             "(README, Quality; default: 1)")

