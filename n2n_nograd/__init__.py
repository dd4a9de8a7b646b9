"""Noise2Noise denoising with a framework that does without autograd.

The denoisers live in the course's submission folder ``Proj_SCIPER`` and are
imported as ``Miniproject_1`` / ``Miniproject_2``.  When they are not already
importable (the usual case when running from a checkout), that folder is put
on ``sys.path``.
"""

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    import Miniproject_2  # noqa: F401
except ImportError:
    _submission = Path(__file__).resolve().parent.parent / "Proj_SCIPER"
    if _submission.is_dir():
        sys.path.insert(0, str(_submission))

try:
    __version__ = version("n2n-nograd")
except PackageNotFoundError:  # a checkout that was never pip-installed
    __version__ = "unknown (not installed)"
