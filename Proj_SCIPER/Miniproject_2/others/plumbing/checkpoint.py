"""Checkpoints: plain dicts of tensors and numbers, written atomically, read without pickle code.

Both miniprojects write and read their checkpoints here (each with its own format tag), and
the command line writes its data sets, run settings and metrics with :func:`save_tensors`
and :func:`write_atomic`, so there is one implementation of each guarantee:

- a file on disk is always a whole one (:func:`write_atomic`): written to a temporary file in the same folder,
  flushed to the disk, then renamed over the target (a crash leaves the old file, or at
  worst a ``.tmp-*.pkl`` file that :func:`remove_temporaries` deletes);
- only finite weights of a sane size are written, and a file whose weights are not is
  refused when read, as a corrupt file is;
- reading never runs code from the file (``torch.load(weights_only=True)``).
"""
import glob
import io
import os
import random

import torch

from .args import shown

FORMAT = "n2n-nograd-checkpoint"
#: Trained weights are of order 1; anything this large is a flipped exponent bit or a
#: diverged run, and would give non-finite predictions.
MAX_WEIGHT = 1e6
TEMPORARY = ".tmp-*.pkl"


def write_atomic(data, path):
    """Write the bytes ``data`` into ``path`` so that ``path`` is always either the old or the new file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    # The name is chosen before the file exists, so that an interrupt (Ctrl-C, SIGTERM) at
    # any moment after it is made finds it to remove; mkstemp's name would be unknown until
    # it returns.
    tmp = os.path.join(folder, f".tmp-{random.SystemRandom().getrandbits(64):016x}.pkl")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # Made private (0600) while written; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    # The rename itself must reach the disk too, or a power cut could undo it.
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def save_tensors(obj, path):
    """``torch.save(obj, path)``, atomically (see :func:`write_atomic`).

    The bytes are built in memory first, so a full disk surfaces as the ``OSError`` of
    the write (``errno.ENOSPC``) rather than as torch's internal writer error.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomic(buffer.getbuffer(), path)


def remove_temporaries(folder):
    """Delete what writes killed half-way left in ``folder``; returns the removed paths."""
    removed = sorted(glob.glob(os.path.join(os.fspath(folder), TEMPORARY)))
    for path in removed:
        os.remove(path)
    return removed


def weight_problem(state_dict):
    """Why ``state_dict`` must not be saved or used (a string), or None if its weights are sane."""
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            return f"{shown(key)} is a {type(tensor).__name__}, not a tensor"
        if tensor.numel() == 0 or not tensor.is_floating_point():
            continue
        if not tensor.isfinite().all():
            return f"{shown(key)} holds non-finite values"
        largest = tensor.abs().max().item()
        if largest > MAX_WEIGHT:
            return f"{shown(key)} holds a value of magnitude {largest:.3g} (more than {MAX_WEIGHT:g})"
    return None


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)


def _on_cpu(value):
    """Every tensor of a nested dict, list or tuple, copied to the CPU."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _on_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(item) for item in value)
    return value


def save(payload, path, format=FORMAT):
    """Write a model's ``payload`` (with a ``state_dict``) to ``path``, its tensors on the CPU
    so that a model trained on a GPU loads anywhere, with a plain ``torch.load`` too;
    non-finite weights raise ``ValueError`` and write nothing."""
    problem = weight_problem(payload["state_dict"])
    if problem:
        raise ValueError(f"refusing to save {os.fspath(path)!r}: {problem}")
    save_tensors(_on_cpu({"format": format, **payload}), path)


def load(path, format=FORMAT):
    """Read and check a checkpoint written by :func:`save`.

    Returns ``(config, state_dict, optimizer_state, epochs_trained, rng)``: ``config`` as
    stored (the caller checks its values), ``rng`` a ``random.Random`` at the saved batch
    order, or None if the file does not say where it stood. A missing file raises ``FileNotFoundError``; anything else wrong raises one
    ``ValueError`` that names the file and the problem.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(f"checkpoint {path!r} is a directory, not a checkpoint file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"checkpoint {path!r} is not a readable checkpoint ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from None
    if not isinstance(payload, dict) or payload.get("format") != format:
        raise ValueError(f"checkpoint {path!r} was not written by this model's save_model "
                         f"(expected format {format!r})")
    missing = [key for key in ("config", "state_dict", "optimizer", "epochs_trained") if key not in payload]
    if missing:
        raise ValueError(f"checkpoint {path!r} lacks {missing}")
    config, state_dict, epochs = payload["config"], payload["state_dict"], payload["epochs_trained"]
    if not isinstance(config, dict) or not isinstance(state_dict, dict):
        raise ValueError(f"checkpoint {path!r}: config and state_dict must be dicts, got "
                         f"{type(config).__name__} and {type(state_dict).__name__}")
    problem = weight_problem(state_dict)
    if problem:
        raise ValueError(f"checkpoint {path!r} is corrupt: {problem}")
    if not all(t.isfinite().all() for t in _tensors(payload["optimizer"]) if t.is_floating_point()):
        raise ValueError(f"checkpoint {path!r} is corrupt: the optimizer state holds non-finite values")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"checkpoint {path!r}: epochs_trained must be a non-negative int, got {shown(epochs)}")
    rng = None
    if "rng_state" in payload:
        state = payload["rng_state"]
        rng = random.Random()
        try:
            # random.setstate itself would compare whatever it is given, tensors included.
            if not (isinstance(state, tuple) and len(state) == 3 and isinstance(state[1], tuple)
                    and all(type(v) is int for v in (state[0], *state[1]))):
                raise TypeError(f"got {shown(state)}")
            rng.setstate(state)
        except (TypeError, ValueError, OverflowError) as error:
            raise ValueError(f"checkpoint {path!r}: rng_state is not a random.Random state ({error})") from None
    return config, state_dict, payload["optimizer"], epochs, rng
