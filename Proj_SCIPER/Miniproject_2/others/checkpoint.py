"""Checkpoints: plain dicts of tensors and numbers, written atomically, read without pickle code."""
import os
import tempfile

import torch

FORMAT = "n2n-nograd-checkpoint"


def save(payload, path):
    """Write ``payload`` to ``path`` through a temporary file so a crash never leaves half a file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path, required):
    """Read a checkpoint written by :func:`save`; ``ValueError`` names the file and the problem.

    ``weights_only=True`` means the file can hold only tensors and plain containers:
    loading never runs code from it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"checkpoint {path!r} is not a readable checkpoint ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path!r} was not written by this model's save_model")
    missing = [key for key in required if key not in payload]
    if missing:
        raise ValueError(f"checkpoint {path!r} lacks {missing}")
    return payload
