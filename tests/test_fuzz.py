"""The fast part of the fault-and-fuzz suite: every family of ``tools/fault_suite.py`` on
hypothesis-drawn seeds. No case may lose data, give a wrong result silently, end in a raw
traceback or run code from a file. ``python tools/fault_suite.py`` is the long run.
"""
import importlib.util
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fault_suite", ROOT / "tools" / "fault_suite.py")
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)

#: Examples per family: what fits in a few seconds each on 2 cores.
EXAMPLES = {"layers": 100, "model config": 40, "predict inputs": 60, "train inputs": 40, "checkpoints": 60,
            "malicious pickles": 30, "data files": 60, "n2n commands": 20}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def test_every_family_has_a_budget():
    assert set(EXAMPLES) == set(suite.FAMILIES)


@pytest.mark.parametrize("family", sorted(EXAMPLES))
def test_no_generated_case_ends_badly(family, workdir):
    # derandomize: the fast suite tries the same cases every run; the long run explores.
    @settings(max_examples=EXAMPLES[family], derandomize=True)
    @given(st.integers(0, 2 ** 32 - 1))
    def case(seed):
        outcome, note = suite.FAMILIES[family](random.Random(seed), workdir)
        assert outcome not in suite.BAD, note

    case()


@pytest.mark.slow
def test_kill_9_during_training_never_loses_an_epoch(tmp_path):
    counts, notes = suite.kill_loop(4, random.Random(0), tmp_path, epochs=3)
    assert counts[suite.LOST] == 0, notes
    assert sum(counts.values()) == 4


def test_the_run_folder_check_catches_a_checkpoint_without_its_record(tmp_path):
    """The kill loop's check is itself checked: a checkpoint whose record is missing is data lost."""
    dataset = suite._dataset(tmp_path)
    noisy, clean = suite.data.load_pairs(dataset / suite.data.VAL_FILE, "val")
    out = tmp_path / "run"
    out.mkdir()
    suite.mp2.Model().save_model(out / "checkpoint.pkl")
    (out / "metrics.jsonl").write_text("")
    assert suite.check_run_folder(out, noisy, clean) == ["checkpoint.pkl (epoch 0) has no metrics record"]


def test_the_summary_counts_every_outcome(capsys, monkeypatch):
    monkeypatch.setattr(suite, "FAMILIES", {"layers": suite.layers})
    monkeypatch.setattr(suite, "kill_loop", lambda *args: (suite.Counter(), []))
    assert suite.main(["--cases", "3", "--kills", "0"]) == 0
    out = capsys.readouterr().out
    assert "cases tried: 3" in out
    for outcome in suite.OUTCOMES:
        assert f"{outcome}:" in out
