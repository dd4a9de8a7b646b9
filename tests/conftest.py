"""Test configuration: import path, hypothesis profiles and the end-of-run report.

The framework is imported as the course grader imports it, ``from Miniproject_2.others
import ...`` with ``Proj_SCIPER/`` on ``sys.path``, so the tests exercise exactly the
package layout that is submitted.

Hypothesis profiles (choose with the ``HYPOTHESIS_PROFILE`` environment variable):

- ``ci`` (default): enough examples per property to explore odd/even sizes, strides,
  paddings and layouts while the whole suite stays within a few minutes on 2 cores.
- ``thorough``: many more examples, for a long run before a release.

No deadline in either: a single example can be slow on a loaded 2-core machine without
anything being wrong.
"""
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Proj_SCIPER"))

import helpers  # noqa: E402  (needs the path above)

settings.register_profile("ci", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=1000,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def one_thread():
    """Run a test on one intra-op thread (see helpers.single_thread)."""
    with helpers.single_thread():
        yield


def pytest_terminal_summary(terminalreporter):
    """Show what the tests measured (exactness counts, traced torch functions) in every run."""
    for title, lines in helpers.REPORTS:
        terminalreporter.write_sep("-", title)
        for line in lines:
            terminalreporter.write_line(line)
