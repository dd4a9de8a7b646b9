"""The benchmark commands of the README start and explain themselves (their full runs take minutes)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["speed.py", "ablation.py", "quality.py"])
def test_benchmark_help(script):
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    assert "usage:" in out.stdout


def test_speed_memory_probe_runs():
    """The subprocess the speed benchmark measures memory with, on the default network."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "speed.py"), "--memory-probe",
                          "default", "4", "ours"], capture_output=True, text=True, check=True, cwd=ROOT)
    assert float(out.stdout.strip().splitlines()[-1]) >= 0
