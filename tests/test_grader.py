"""test.py, the grader-like checker: it passes the real project and catches broken ones."""

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TEST_PY = ROOT / "test.py"

spec = importlib.util.spec_from_file_location("grader", TEST_PY)
grader = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grader)


def noisy_pairs(n, generator):
    """Clean 32x32 photo crops and two noisy draws of them, uint8 like the course data.

    The crops come from photos bundled with scikit-image, so the pretrained
    models see the kind of pictures they were trained on.
    """
    from skimage import data as photos

    pictures = [torch.from_numpy(photo()).permute(2, 0, 1).float()
                for photo in (photos.astronaut, photos.chelsea, photos.coffee)]
    crops = []
    for _ in range(n):
        picture = pictures[int(torch.randint(len(pictures), (1,), generator=generator))]
        side = int(torch.randint(48, 200, (1,), generator=generator))
        top = int(torch.randint(picture.shape[1] - side, (1,), generator=generator))
        left = int(torch.randint(picture.shape[2] - side, (1,), generator=generator))
        crops.append(picture[None, :, top:top + side, left:left + side])
    clean = torch.cat([torch.nn.functional.adaptive_avg_pool2d(crop, 32) for crop in crops])

    def noisy():
        return (clean + 25 * torch.randn(clean.shape, generator=generator)).round().clamp(0, 255).to(torch.uint8)

    return noisy(), noisy(), clean.round().to(torch.uint8)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    generator = torch.Generator().manual_seed(0)
    noisy_a, noisy_b, _ = noisy_pairs(64, generator)
    torch.save((noisy_a, noisy_b), folder / "train_data.pkl")
    # 150 is not a multiple of the grader's batches of 100: the tail must count too.
    val_noisy, _, val_clean = noisy_pairs(150, generator)
    torch.save((val_noisy, val_clean), folder / "val_data.pkl")
    return folder


def run_checker(project, data=None, *extra):
    command = [sys.executable, str(TEST_PY), "-p", str(project), *extra]
    if data is not None:
        command += ["-d", str(data)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def write_project(root, files):
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


STUB_MODEL = """
    import torch

    class Model:
        def __init__(self):
            self.shift = 0.0

        def load_pretrained_model(self):
            pass

        def train(self, train_input, train_target, num_epochs=1):
            self.shift += {shift}

        def predict(self, test_input):
            return test_input.float() * {scale} + self.shift
"""


# -- end to end -----------------------------------------------------------------------------

def test_the_real_project_passes_every_check(data_dir):
    # Two Adam steps on 48 pairs move the PSNR by a few tenths of a dB either
    # way; the default 0.3 dB bound is meant for the grader's 50,000 pairs.
    result = run_checker(ROOT / "Proj_SCIPER", data_dir, "--train-subset", "48", "--max-psnr-drop", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("Miniproject_1: validation PSNR", "Miniproject_2: one training epoch (48 pairs)",
                  "Miniproject_2: Conv2d(3, 3, 3).forward(x) == F.conv2d (grader)",
                  "Miniproject_2: only the course's allowed imports"):
        assert f"[PASS] {check}" in result.stdout, result.stdout
    assert "[WARN] Miniproject_1: validation PSNR" not in result.stdout
    assert "RESULT: PASS" in result.stdout


def test_a_missing_model_file_fails_early(tmp_path):
    project = write_project(tmp_path / "Proj_123456_234567_345678", {
        "Miniproject_1/__init__.py": "", "Miniproject_1/model.py": STUB_MODEL.format(shift=1, scale=1),
        "Miniproject_2/__init__.py": "",
    })
    result = run_checker(project)
    assert result.returncode == 1
    assert "[FAIL] Miniproject_2: __init__.py and model.py: missing Miniproject_2/model.py" in result.stdout
    assert "folder name" not in result.stdout.split("SUMMARY")[1]


def test_broken_models_fail_and_the_reasons_are_named(tmp_path, data_dir):
    project = write_project(tmp_path / "Proj_SCIPER", {
        "Miniproject_1/__init__.py": "",
        # Outputs up to 510: outside [0, 255].
        "Miniproject_1/model.py": STUB_MODEL.format(shift=0.5, scale=2),
        "Miniproject_2/__init__.py": "",
        # Training that changes nothing, as when an optimizer updates copies.
        "Miniproject_2/model.py": STUB_MODEL.format(shift=0, scale=1),
    })
    result = run_checker(project, data_dir, "--train-subset", "8")
    out = result.stdout
    assert result.returncode == 1
    assert "[FAIL] Miniproject_1: predict(torch.rand(1, 3, 512, 512) * 255): values must lie in [0, 255]" in out
    assert "[FAIL] Miniproject_2: one training epoch (8 pairs), then PSNR again: train() left every prediction unchanged" in out
    assert "[FAIL] Miniproject_2: blocks importable from Miniproject_2.model: missing Conv2d" in out
    assert "[WARN] folder name" in out and "[WARN] Miniproject_2: report" in out
    assert "RESULT: FAIL" in out


def test_the_checker_imports_the_folder_under_test_not_an_installed_copy(tmp_path):
    # Miniproject_1 is also installed (pip install -e .): the stub must win.
    project = write_project(tmp_path / "Proj_SCIPER", {
        "Miniproject_1/__init__.py": "", "Miniproject_1/model.py": STUB_MODEL.format(shift=1, scale=0.5),
        "Miniproject_2/__init__.py": "", "Miniproject_2/model.py": STUB_MODEL.format(shift=1, scale=0.5),
    })
    result = run_checker(project, None)
    assert "[PASS] Miniproject_1: import Miniproject_1.model" in result.stdout
    assert "[PASS] Miniproject_1: predict(torch.rand(1, 3, 512, 512) * 255)" in result.stdout


# -- the import scan ------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("import torch\nx = torch.empty(3)\ny = torch.cat([x, x])\nz = torch.arange(4)", []),
    ("from torch import empty, cat, arange", []),
    ("from torch.nn.functional import fold, unfold", []),
    ("import torch.nn.functional as F\nF.unfold", []),
    ("import torch\nx.to(torch.float64)\nisinstance(x, torch.Tensor)\ntorch.save(x, 'f')", []),
    ("import math, os\nfrom . import others\nfrom .others.conv import Conv", []),
    ("import torch\nx = torch.zeros(3)", [("torch.zeros", "forbidden")]),
    ("import torch.nn.functional as F\nF.conv2d", [("torch.nn.functional.conv2d", "forbidden")]),
    ("from torch.nn import Module", [("torch.nn.Module", "forbidden")]),
    ("from torch import nn\nnn.Linear", [("torch.nn.Linear", "forbidden")]),
    ("import torch\ntorch.einsum('ii', x)", [("torch.einsum", "forbidden")]),
    ("import numpy as np", [("numpy", "third-party")]),
    ("from n2n_nograd import psnr", [("n2n_nograd", "third-party")]),
    ("import torch\ntorch.set_grad_enabled(False)", [("torch.set_grad_enabled", "tolerated")]),
])
def test_the_import_scan_sorts_what_miniproject_2_uses(tmp_path, source, expected):
    path = tmp_path / "module.py"
    path.write_text(source)
    found = [(name, kind) for name, _, kind in grader.scan_imports(path, "Miniproject_2") if kind != "allowed"]
    assert found == expected


def test_the_import_scan_fails_miniproject_2_and_only_warns_for_miniproject_1(tmp_path, capsys):
    project = write_project(tmp_path, {
        "Miniproject_1/model.py": "import tqdm\nimport torch.nn as nn\nnn.Conv2d",
        "Miniproject_2/others/conv.py": "import torch\ntorch.zeros(1)",
    })
    report = grader.Report()
    grader.check_imports(report, project)
    statuses = {name: status for status, name, _ in report.entries}
    assert statuses == {"Miniproject_2: only the course's allowed imports": "FAIL",
                        "Miniproject_1: imports available on the grader's machine": "WARN"}
    assert "Miniproject_2/others/conv.py:2" in capsys.readouterr().out


# -- the block checks -----------------------------------------------------------------------

def blocks_with(**replacements):
    """Miniproject_2's blocks with some replaced, as a module-like namespace."""
    import Miniproject_2.model as mp2

    names = ["Conv2d", "Sigmoid", "Sequential", "ReLU", "MSE", "SGD", "Upsampling", "NearestUpsampling"]
    return type("Blocks", (), {**{n: getattr(mp2, n) for n in names}, **replacements})


def run_block_checks(module):
    report = grader.Report()
    with torch.no_grad():
        grader.block_checks(report, module)
    return {name: status for status, name, _ in report.entries}


def test_the_real_blocks_pass():
    statuses = run_block_checks(blocks_with())
    assert set(statuses.values()) == {"PASS"}, statuses


def test_a_conv_that_overwrites_instead_of_accumulating_fails():
    from Miniproject_2.model import Conv2d

    class OverwritingConv2d(Conv2d):
        def backward(self, grad_output):
            for _, grad in self.param():
                grad.zero_()
            return super().backward(grad_output)

    statuses = run_block_checks(blocks_with(Conv2d=OverwritingConv2d))
    assert statuses["Miniproject_2: Conv2d(3, 3, 3).forward(x) == F.conv2d (grader)"] == "PASS"
    assert statuses["Miniproject_2: Conv2d(3, 4, 3) forward and backward vs torch.autograd"] == "FAIL"


def test_a_sigmoid_whose_gradient_overflows_fails():
    from Miniproject_2.model import Sigmoid

    class NaiveSigmoid(Sigmoid):
        def forward(self, x):
            self.saved = x
            return super().forward(x)

        def backward(self, grad_output):
            e = (-self.saved).exp()
            return grad_output * e / (1 + e) ** 2

    statuses = run_block_checks(blocks_with(Sigmoid=NaiveSigmoid))
    assert statuses["Miniproject_2: Sigmoid() forward and backward vs torch.autograd"] == "PASS"
    assert statuses["Miniproject_2: Sigmoid at |x| up to 100 (no NaN, float32)"] == "FAIL"


def test_an_sgd_that_rebinds_parameters_fails():
    class RebindingSGD:
        def __init__(self, params, lr):
            self.params, self.lr = params, lr

        def step(self):
            self.params = [(p - self.lr * g, g) for p, g in self.params]

    statuses = run_block_checks(blocks_with(SGD=RebindingSGD))
    assert statuses["Miniproject_2: SGD(conv.param(), lr=0.1).step() updates conv.weight in place"] == "FAIL"


# -- the submission zip ---------------------------------------------------------------------

def test_the_submission_zip_holds_only_what_the_course_asks_for(tmp_path):
    import zipfile

    spec = importlib.util.spec_from_file_location("make_submission", ROOT / "tools" / "make_submission.py")
    make_submission = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_submission)
    project = write_project(tmp_path / "Proj_123456_234567_345678", {
        name: "" for name in [
            "Miniproject_1/__init__.py", "Miniproject_1/model.py", "Miniproject_1/bestmodel.pth",
            "Miniproject_1/__pycache__/model.cpython-311.pyc", "Miniproject_1/notes.txt",
            "Miniproject_2/__init__.py", "Miniproject_2/model.py", "Miniproject_2/bestmodel.pkl",
            "Miniproject_2/Report_2.pdf", "Miniproject_2/others/__init__.py", "Miniproject_2/others/conv.py",
            "Miniproject_2/others/bestmodel.pkl", "Miniproject_2/.hidden.py", "data/val_data.pkl", "README.md",
        ]
    })
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    make_submission.build_zip(project, first)
    make_submission.build_zip(project, second)
    assert first.read_bytes() == second.read_bytes()
    assert sorted(zipfile.ZipFile(first).namelist()) == sorted(f"{project.name}/{name}" for name in [
        "Miniproject_1/__init__.py", "Miniproject_1/model.py", "Miniproject_1/bestmodel.pth",
        "Miniproject_2/__init__.py", "Miniproject_2/model.py", "Miniproject_2/bestmodel.pkl",
        "Miniproject_2/Report_2.pdf", "Miniproject_2/others/__init__.py", "Miniproject_2/others/conv.py",
    ])
