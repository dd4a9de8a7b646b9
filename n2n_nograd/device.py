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


#: ``--precision`` values: the framework's two (see Miniproject_2's others/kernels/precision.py) and auto.
PRECISION_CHOICES = ("fp32", "bf16", "auto")
#: CPU flags (Linux /proc/cpuinfo) of bfloat16 matrix units: Intel AMX, and AVX-512 BF16
#: (Intel Cooper Lake and later, AMD Zen 4 and later).
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_bf16_units(device: str) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware: a CUDA GPU with bfloat16
    support (compute capability 8.0 and later), or a CPU with :data:`BF16_FLAGS` (known on
    Linux only)."""
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return any(flag in _cpu_flags() for flag in BF16_FLAGS)


def resolve_precision(text: str, device: str, warn=None) -> str:
    """``fp32`` or ``bf16`` for ``--precision text`` on ``device`` (already resolved).

    ``auto`` is bf16 where the device has bfloat16 matrix units and fp32 elsewhere. bf16
    asked for on a device without them still computes the same numbers, slower than fp32:
    ``warn`` (a function of one line) is told so.
    """
    if text not in PRECISION_CHOICES:
        raise ValueError(f"--precision must be one of {', '.join(PRECISION_CHOICES)}, got {text!r}")
    if text == "auto":
        return "bf16" if has_bf16_units(device) else "fp32"
    if text == "bf16" and warn is not None and not has_bf16_units(device):
        warn(f"--precision bf16: {device} has no bfloat16 matrix units (AMX or AVX512-BF16 on a CPU, "
             "compute capability 8.0 on a GPU); it computes the same numbers, but slower than fp32")
    return text
