"""The ``--device`` option: which torch device a command computes on."""

from __future__ import annotations

import re

import torch

CHOICES = "cpu, cuda, cuda:N or auto"
_CUDA = re.compile(r"cuda(?::(\d+))?")


def resolve_device(text: str) -> str:
    """The device ``text`` names, checked to exist on this machine.

    ``auto`` is ``cuda`` when torch sees a CUDA device and ``cpu`` otherwise. Anything
    but ``cpu``, ``cuda``, ``cuda:N`` and ``auto``, or a CUDA device this machine or
    this build of torch does not have, raises ValueError naming it.
    """
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return text
    match = _CUDA.fullmatch(text)
    if match is None:
        raise ValueError(f"--device must be {CHOICES}, got {text!r}")
    if not torch.cuda.is_available():
        build = ("a CPU-only build" if torch.version.cuda is None
                 else f"a CUDA {torch.version.cuda} build, but no GPU is visible")
        raise ValueError(f"--device {text}: torch {torch.__version__} is {build}; "
                         "use --device cpu, or see the README's GPU section")
    index, count = match.group(1), torch.cuda.device_count()
    if index is not None and int(index) >= count:
        raise ValueError(f"--device {text}: this machine has {count} CUDA device(s), "
                         f"cuda:0 to cuda:{count - 1}")
    return text
