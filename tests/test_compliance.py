"""The course's rule for Miniproject_2: no autograd, no torch.nn, only tensor operations.

Allowed: the standard library; ``import torch``; ``from torch import empty, cat, arange``;
``from torch.nn.functional import fold, unfold``; tensor methods and properties;
``torch.load``/``torch.save`` (checkpoints) and torch's types (``torch.Tensor``,
``torch.device``, ``torch.dtype``, the dtypes themselves, ...).

Not allowed, although they compute nothing: ``torch.no_grad``, ``torch.set_grad_enabled``
and the like. The framework never makes a tensor that requires grad, so they would change
nothing, and using them could hide a tensor that does; importing must not flip torch's
global state either (checked below).

Two independent checks, each shown to catch ``F.conv2d`` and ``torch.zeros``:

1. static: every .py file of Miniproject_2, parsed. What each name under torch resolves
   to is classified by ``scan_imports`` of the repository's grader-like checker test.py
   (the project's single list of allowed torch names); on top of it, the import
   statements themselves must take the course's forms.
2. runtime: a ``TorchFunctionMode`` records every torch function and tensor method
   called while ``Model`` trains an epoch and predicts, and while every layer runs
   forward and backward.
"""
import ast
import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from helpers import report
from Miniproject_2.model import Model
from Miniproject_2.others.kernels.precision import PRECISIONS, set_precision
from Miniproject_2.others import (MSE, SGD, Adam, AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling, ReLU,
                                  Residual, Sequential, Sigmoid, SkipConcat, TransposeConv2d, Upsampling)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "Proj_SCIPER" / "Miniproject_2"

_spec = importlib.util.spec_from_file_location("grader_checker", ROOT / "test.py")
checker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checker)

FROM_IMPORTS = {"torch": {"empty", "cat", "arange"}, "torch.nn.functional": {"fold", "unfold"}}


# -- static scan ---------------------------------------------------------------------------------

def import_violations(source):
    """Import statements outside the course's forms, and dynamic ways around them."""
    tree = ast.parse(source)
    torch_names = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for a in node.names if a.name == "torch"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if a.name != "torch" and (a.name.split(".")[0] not in sys.stdlib_module_names
                                                or a.name == "importlib")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            allowed = FROM_IMPORTS.get(node.module)
            stdlib = allowed is None and node.module.split(".")[0] in sys.stdlib_module_names
            found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if not stdlib and (allowed is None or a.name not in allowed)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                node.func.id == "__import__" or node.func.id == "getattr" and node.args
                and isinstance(node.args[0], ast.Name) and node.args[0].id in torch_names):
            found.append(f"line {node.lineno}: {node.func.id}(...)")
    return found


def scan(path):
    """Everything in one file that breaks the rule, as readable strings."""
    found = [f"{path.name}: {v}" for v in import_violations(path.read_text(encoding="utf-8"))]
    found += [f"{path.name}: line {line}: {name} ({kind})"
              for name, line, kind in checker.scan_imports(path, "Miniproject_2") if kind != "allowed"]
    return found


def test_static_scan_of_every_file_of_miniproject_2():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 15 and PACKAGE / "model.py" in files
    violations = [v for path in files for v in scan(path)]
    assert violations == []


@pytest.mark.parametrize("source, expected", [
    ("import torch.nn.functional as F\nF.conv2d(x, w)", ["import torch.nn.functional", "torch.nn.functional.conv2d"]),
    ("from torch.nn.functional import conv2d", ["from torch.nn.functional import conv2d",
                                                 "torch.nn.functional.conv2d"]),
    ("import torch\ntorch.nn.functional.conv2d(x, w)", ["torch.nn.functional.conv2d"]),
    ("import torch\nx = torch.zeros(3)", ["torch.zeros"]),
    ("from torch import zeros", ["from torch import zeros", "torch.zeros"]),
    ("import torch as t\nt.zeros(3)", ["torch.zeros"]),
    ("import torch\nlayer = torch.nn.Conv2d(3, 3, 3)", ["torch.nn.Conv2d"]),
    ("import numpy as np", ["import numpy", "numpy"]),
    ("import torch\nwith torch.no_grad():\n    pass", ["torch.no_grad"]),
    ("import torch\ntorch.set_grad_enabled(False)", ["torch.set_grad_enabled"]),
    ("import torch\ngetattr(torch, 'zeros')(3)", ["getattr(...)"]),
    ("__import__('torch').zeros(3)", ["__import__(...)"]),
    ("import importlib\nimportlib.import_module('numpy')", ["import importlib"]),
])
def test_static_scan_catches_forbidden_code(tmp_path, source, expected):
    path = tmp_path / "snippet.py"
    path.write_text(source)
    violations = scan(path)
    assert len(violations) == len(expected), violations
    for violation, fragment in zip(violations, expected):
        assert fragment in violation


def test_static_scan_passes_the_allowed_forms(tmp_path):
    path = tmp_path / "snippet.py"
    path.write_text("import math\nimport torch\nfrom torch import empty, cat, arange\n"
                    "from torch.nn.functional import fold, unfold\nfrom .others import Conv2d\n"
                    "x = empty(3).to(torch.float64)\ntorch.save(x, 'f')\nisinstance(x, torch.Tensor)\n")
    assert scan(path) == []


# -- runtime trace -------------------------------------------------------------------------------

ALLOWED_FUNCTIONS = {torch.empty, torch.cat, torch.arange, F.fold, F.unfold, torch.load, torch.save}
AUTOGRAD = {"backward", "requires_grad_", "retain_grad", "register_hook", "grad", "grad_fn", "requires_grad"}
TENSOR_CLASSES = {"Tensor", "TensorBase", "_TensorBase"}


def describe(func):
    """``(name, allowed)`` for a function seen by ``__torch_function__``."""
    name = getattr(func, "__name__", repr(func))
    descriptor = getattr(func, "__self__", None)
    if name in ("__get__", "__set__") and isinstance(getattr(descriptor, "__objclass__", None), type) \
            and issubclass(descriptor.__objclass__, torch._C.TensorBase):
        prop = descriptor.__name__
        return f"Tensor.{prop} ({name.strip('_')})", prop not in AUTOGRAD
    owner = getattr(func, "__qualname__", "").rpartition(".")[0]
    if owner in TENSOR_CLASSES:
        return f"Tensor.{name}", name not in AUTOGRAD
    return f"{getattr(func, '__module__', None) or 'torch'}.{name}", func in ALLOWED_FUNCTIONS


class TorchCalls(TorchFunctionMode):
    """Records every torch function and tensor method called at the top level (what torch
    calls inside an allowed function, such as F.unfold's im2col, is torch's own business)."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name, allowed = describe(func)
        self.seen[name] = allowed
        return func(*args, **(kwargs or {}))

    def forbidden(self):
        return sorted(name for name, allowed in self.seen.items() if not allowed)


def trace(run):
    with TorchCalls() as calls:
        run()
    return calls


def record(calls, title, tmp_path):
    names = sorted(calls.seen)
    (tmp_path / "torch_functions.txt").write_text("\n".join(names) + "\n")
    report(f"{title}: {len(names)} torch functions seen (also in {tmp_path / 'torch_functions.txt'})",
           [", ".join(names)])


def uint8_images(n, size, generator):
    return (torch.rand(n, 3, size, size, generator=generator) * 256).to(torch.uint8)


@pytest.mark.usefixtures("one_thread")
def test_model_trains_and_predicts_with_allowed_torch_functions_only(tmp_path):
    generator = torch.Generator().manual_seed(0)
    noisy_a, noisy_b = uint8_images(12, 16, generator), uint8_images(12, 16, generator)
    test_images = uint8_images(2, 18, generator)  # not a multiple of the network's stride

    def run():
        model = Model(batch_size=4)
        model.train(noisy_a, noisy_b, num_epochs=1)
        model.predict(test_images)
        Model().predict(test_images.float())
        deep = Model(arch="deep", channels=(4, 6, 5), batch_size=4)
        deep.train(noisy_a, noisy_b, num_epochs=1)
        deep.predict(test_images)

    calls = trace(run)
    record(calls, "runtime trace of Model().train(...) + Model().predict(...), both architectures", tmp_path)
    assert calls.forbidden() == []


def exercise_every_layer():
    """Forward and backward of every layer on both input layouts, in both precisions, both
    losses' reductions, both optimizers and a state_dict round trip."""
    net = Sequential(Conv2d(3, 8, 2, stride=2), ReLU(), MaxPool2d(3, stride=1, padding=1),
                     AvgPool2d(3, stride=1, padding=1, count_include_pad=False), LeakyReLU(0.1),
                     Conv2d(8, 16, 2, stride=2), ReLU(),
                     Upsampling(16, 8, 3, padding=1), ReLU(),
                     SkipConcat(Sequential(MaxPool2d(2), Conv2d(8, 8, 3, padding=1), NearestUpsampling(scale_factor=2))),
                     Residual(Conv2d(16, 16, 1)), Conv2d(16, 8, 1), TransposeConv2d(8, 4, 2, stride=2),
                     NearestUpsampling(scale_factor=0.5), Upsampling(4, 3, 3, padding=1), Sigmoid())
    for optimizer in (SGD(net.param(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
                      Adam(net.param(), lr=1e-3, weight_decay=1e-4)):
        for layout, precision in itertools.product((torch.contiguous_format, torch.channels_last), PRECISIONS):
            set_precision(net, precision)
            x = torch.empty(2, 3, 8, 8).uniform_().contiguous(memory_format=layout)
            for reduction in ("mean", "sum", "none"):
                mse = MSE(reduction)
                mse.forward(net.forward(x), x)
                optimizer.zero_grad()
                net.backward(mse.backward(1.0))
                optimizer.step()
        optimizer.load_state_dict(optimizer.state_dict())
    net.load_state_dict(net.state_dict())
    net.to(dtype=torch.float64)


@pytest.mark.usefixtures("one_thread")
def test_every_layer_and_optimizer_use_allowed_torch_functions_only(tmp_path):
    calls = trace(exercise_every_layer)
    record(calls, "runtime trace of every layer, loss and optimizer", tmp_path)
    assert calls.forbidden() == []


@pytest.mark.parametrize("run, expected", [
    (lambda: F.conv2d(torch.empty(1, 1, 3, 3).fill_(1), torch.empty(1, 1, 2, 2).fill_(1)), ["torch.conv2d"]),
    (lambda: torch.zeros(3), ["torch.zeros"]),
    (lambda: torch.nn.functional.relu(torch.empty(3).fill_(1)), ["torch.nn.functional.relu"]),
    (lambda: torch.empty(3).fill_(1).requires_grad_().sum().backward(), ["Tensor.backward", "Tensor.requires_grad_"]),
], ids=["F.conv2d", "torch.zeros", "F.relu", "autograd"])
def test_runtime_trace_catches_forbidden_calls(run, expected):
    assert trace(run).forbidden() == expected


def test_runtime_trace_passes_allowed_calls():
    def run():
        x = torch.cat([torch.empty(1, 2, 4, 4).uniform_(), torch.arange(32.0).view(1, 2, 4, 4)])
        F.fold(F.unfold(x, 2), (4, 4), 2).permute(0, 2, 3, 1).shape
        x.data = x @ x
    calls = trace(run)
    assert calls.forbidden() == [] and "torch.nn.functional.unfold" in calls.seen


# -- torch's global state ----------------------------------------------------------------------

@pytest.mark.parametrize("grad, dtype", [(True, "float32"), (False, "float64")])
def test_importing_does_not_change_grad_mode_or_default_dtype(grad, dtype):
    code = (f"import torch\ntorch.set_grad_enabled({grad})\ntorch.set_default_dtype(torch.{dtype})\n"
            "import Miniproject_2.model, Miniproject_2.others\n"
            f"assert torch.is_grad_enabled() is {grad}, 'grad mode changed'\n"
            f"assert torch.get_default_dtype() == torch.{dtype}, 'default dtype changed'\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "Proj_SCIPER")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.usefixtures("one_thread")
def test_training_is_the_same_with_grad_enabled_or_disabled():
    generator = torch.Generator().manual_seed(1)
    noisy_a, noisy_b = uint8_images(8, 8, generator), uint8_images(8, 8, generator)
    results = []
    for enabled in (True, False):
        with torch.set_grad_enabled(enabled):
            torch.manual_seed(0)
            model = Model(batch_size=4)
            model.train(noisy_a, noisy_b, num_epochs=1)
            out = model.predict(noisy_a[:2])
            assert out.grad_fn is None and not out.requires_grad
            assert all(t.grad_fn is None and not t.requires_grad for t in model.net.state_dict().values())
            results.append((out, model.net.state_dict()))
    (out_on, state_on), (out_off, state_off) = results
    assert torch.equal(out_on, out_off)
    assert all(torch.equal(state_on[k], state_off[k]) for k in state_on)
