"""Checks a project folder the way the EE-559 (2022) grader does, and a little more.

    python test.py -p Proj_SCIPER -d DATA_DIR [--skip-train] [--train-subset N]

It repeats the course grader's calls (folder structure, ``Model()``,
``load_pretrained_model``, ``predict`` on a 512x512 image, validation PSNR,
one training epoch, the forward checks of ``Conv2d``, ``Sigmoid`` and
``Sequential``) and adds what the grader left out: backward passes checked
against torch.autograd, optimizer updates, and a scan of Miniproject_2's
imports against the course's allowed list.

It needs only torch and the standard library, so it can check an unzipped
submission on its own. Every check prints PASS, WARN or FAIL; the exit status
is 1 if any check failed.
"""

import argparse
import ast
import functools
import importlib
import math
import re
import sys
import time
import traceback
import types
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

MINIPROJECTS = ("Miniproject_1", "Miniproject_2")
CHECKPOINTS = ("bestmodel.pth", "bestmodel.pkl")
FOLDER_NAME = re.compile(r"Proj_\d{6}_\d{6}_\d{6}")
COURSE_EPOCH_PAIRS = 50_000
COURSE_EPOCH_LIMIT_S = 30 * 60

# The course's list, plus checkpoint I/O, which it allows for saving the model.
ALLOWED_TORCH = {"torch.empty", "torch.cat", "torch.arange", "torch.load", "torch.save",
                 "torch.nn.functional.fold", "torch.nn.functional.unfold"}
# Types and switches that compute nothing; reported so that the authors can decide.
TOLERATED_TORCH = {"torch.manual_seed", "torch.set_grad_enabled", "torch.no_grad",
                   "torch.is_grad_enabled", "torch.inference_mode", "torch.cuda.is_available",
                   "torch.backends.mps.is_available"}
TORCH_TYPES = {"torch.Tensor", "torch.device", "torch.dtype", "torch.Generator", "torch.Size"}


class CheckFailed(Exception):
    pass


class Check:
    """One named check: a context manager that records how its body ended.

    An uncaught exception in the body is a FAIL, ``warn()`` turns a pass into
    a WARN, ``detail`` is printed beside a PASS.
    """

    def __init__(self, report, name):
        self.report, self.name = report, name
        self.detail, self.warnings, self.ok = "", [], False

    def __enter__(self):
        return self

    def warn(self, message):
        self.warnings.append(message)

    def __exit__(self, kind, error, tb):
        if error is None:
            self.ok = True
            if self.warnings:
                self.report.add("WARN", self.name, "; ".join(self.warnings))
            else:
                self.report.add("PASS", self.name, self.detail)
            return True
        if not isinstance(error, Exception):
            return False
        if isinstance(error, CheckFailed):
            self.report.add("FAIL", self.name, str(error))
        else:
            lines = traceback.format_exception(kind, error, tb)
            self.report.add("FAIL", self.name, f"{kind.__name__}: {error}",
                            "".join(lines[-8:]).rstrip())
        return True


class Report:
    def __init__(self):
        self.entries = []

    def check(self, name):
        return Check(self, name)

    def add(self, status, name, message="", trace=""):
        self.entries.append((status, name, message))
        line = f"[{status}] {name}" + (f": {message}" if message else "")
        print(line, flush=True)
        if trace:
            print("       " + trace.replace("\n", "\n       "), flush=True)

    def summary(self):
        counts = {status: sum(e[0] == status for e in self.entries) for status in ("PASS", "WARN", "FAIL")}
        print("\n" + "=" * 72)
        print(f"SUMMARY: {counts['PASS']} PASS, {counts['WARN']} WARN, {counts['FAIL']} FAIL")
        for status, name, message in self.entries:
            if status != "PASS":
                print(f"  [{status}] {name}" + (f": {message}" if message else ""))
        print("RESULT: " + ("FAIL" if counts["FAIL"] else "PASS"))
        return counts["FAIL"] == 0


def fail(message):
    raise CheckFailed(message)


def expect_close(actual, expected, what, rtol=1e-5, atol=1e-8):
    if not isinstance(actual, torch.Tensor):
        fail(f"{what}: expected a tensor, got {type(actual).__name__}")
    if actual.shape != expected.shape:
        fail(f"{what}: shape {tuple(actual.shape)}, torch gives {tuple(expected.shape)}")
    if not torch.allclose(actual.to(expected.dtype), expected, rtol=rtol, atol=atol):
        error = (actual.to(expected.dtype) - expected).abs().max().item()
        fail(f"{what}: differs from torch (max abs error {error:.3g}, rtol={rtol}, atol={atol})")


def psnr(denoised, clean):
    """The course's PSNR: the mean of per-image PSNRs on [0, 1]."""
    return (-10 * torch.log10(((denoised - clean) ** 2).mean((1, 2, 3)))).mean().item()


def predict_in_batches(model, images):
    """Predicts as the grader does: uint8 batches of 100 through ``narrow``."""
    outputs = []
    for start in range(0, images.shape[0], 100):
        outputs.append(model.predict(images.narrow(0, start, min(100, images.shape[0] - start))).cpu())
    return torch.cat(outputs).float() / 255


@contextmanager
def default_dtype(dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


# -- folder ---------------------------------------------------------------------------------

def check_structure(report, project):
    with report.check("folder exists") as c:
        if not project.is_dir():
            fail(f"{project} is not a folder")
        c.detail = str(project)
    if not c.ok:
        return False
    with report.check("folder name") as c:
        if not FOLDER_NAME.fullmatch(project.name):
            c.warn(f"{project.name!r} is not Proj_ followed by three 6-digit SCIPER numbers "
                   f"(e.g. Proj_123456_234567_345678); rename it before submitting")
    complete = True
    for name in MINIPROJECTS:
        with report.check(f"{name}: __init__.py and model.py") as c:
            missing = [f for f in ("__init__.py", "model.py") if not (project / name / f).is_file()]
            if missing:
                fail(f"missing {', '.join(str(Path(name) / f) for f in missing)}")
        complete &= c.ok
        with report.check(f"{name}: pretrained model") as c:
            found = [f for f in CHECKPOINTS if (project / name / f).is_file()]
            if not found:
                c.warn(f"no {' or '.join(CHECKPOINTS)} in {name}/")
            c.detail = ", ".join(found)
    with report.check("Miniproject_2: report") as c:
        if not (project / "Miniproject_2" / "Report_2.pdf").is_file():
            c.warn("Miniproject_2/Report_2.pdf is missing")
    return complete


# -- data -------------------------------------------------------------------------------------

def load_pairs(report, path):
    with report.check(f"data: {path.name}") as c:
        pairs = torch.load(path, map_location="cpu")
        if not (isinstance(pairs, (tuple, list)) and len(pairs) == 2
                and all(isinstance(t, torch.Tensor) for t in pairs)):
            fail("expected a pair of tensors (noisy, target)")
        a, b = pairs
        if a.dtype != torch.uint8 or b.dtype != torch.uint8:
            fail(f"expected uint8 tensors, got {a.dtype} and {b.dtype}")
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3 or a.shape[0] == 0:
            fail(f"expected two (N, 3, H, W) tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
        c.detail = f"{a.shape[0]} pairs of {a.shape[2]}x{a.shape[3]}"
    return (a, b) if c.ok else None


# -- the Model API ----------------------------------------------------------------------------

def import_model(report, project, name):
    with report.check(f"{name}: import {name}.model") as c:
        module = importlib.import_module(f"{name}.model")
        location = Path(module.__file__).resolve()
        if project.resolve() not in location.parents:
            fail(f"imported from {location}, not from {project}: an installed copy shadows the folder")
        if not hasattr(module, "Model"):
            fail(f"{name}.model has no Model class")
    return module if c.ok else None


def check_model(report, args, name, module, val, train):
    with report.check(f"{name}: Model()") as c:
        model = module.Model()
    if not c.ok:
        return
    with report.check(f"{name}: load_pretrained_model()") as c:
        model.load_pretrained_model()
    if not c.ok:
        return

    with report.check(f"{name}: predict(torch.rand(1, 3, 512, 512) * 255)") as c:
        x = torch.rand(1, 3, 512, 512) * 255
        original = x.clone()
        out = model.predict(x)
        if not isinstance(out, torch.Tensor) or out.shape != (1, 3, 512, 512):
            fail(f"expected a (1, 3, 512, 512) tensor, got {getattr(out, 'shape', type(out).__name__)}")
        low, high = out.min().item(), out.max().item()
        if not (low >= 0 and high <= 255):
            fail(f"values must lie in [0, 255], got [{low:.3g}, {high:.3g}]")
        if high <= 1:
            c.warn(f"max is {high:.3g}: predict must return the 0-255 scale, not [0, 1]")
        if not torch.equal(x, original):
            fail("predict modified its input")
        c.detail = f"range [{low:.1f}, {high:.1f}]"

    with report.check(f"{name}: Model(arch='deep') with its own pretrained checkpoint") as c:
        # Not a grader check: this project's deep model ships in the folder too; a folder
        # without one gets a warning.
        try:
            deep = module.Model(arch="deep")
            deep.load_pretrained_model()
            out = deep.predict(torch.randint(0, 256, (1, 3, 64, 48), dtype=torch.uint8))
            problem = None if getattr(out, "shape", None) == (1, 3, 64, 48) else f"got shape {tuple(out.shape)}"
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
        if problem:
            c.warn(problem)

    with report.check(f"{name}: predict on odd sizes (1x3x33x47, uint8)") as c:
        # Not a grader check (it only uses 32x32 and 512x512): a warning at most.
        try:
            out = model.predict(torch.randint(0, 256, (1, 3, 33, 47), dtype=torch.uint8))
            problem = None if getattr(out, "shape", None) == (1, 3, 33, 47) else f"got shape {tuple(out.shape)}"
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
        if problem:
            c.warn(f"{problem}; the course uses only 32x32 and 512x512, but other sizes should work too")

    if val is None:
        return
    val_input, val_target = val
    clean = val_target.float() / 255
    with report.check(f"{name}: validation PSNR of the pretrained model") as c:
        before_outputs = predict_in_batches(model, val_input)
        before = psnr(before_outputs, clean)
        noisy = psnr(val_input.float() / 255, clean)
        if not math.isfinite(before):
            fail(f"PSNR is {before}")
        c.detail = f"{before:.2f} dB (noisy input: {noisy:.2f} dB)"
        if before <= noisy:
            c.warn(f"{before:.2f} dB is no better than the noisy input's {noisy:.2f} dB")
    if not c.ok or train is None or args.skip_train:
        return

    train_input, train_target = train
    if args.train_subset:
        train_input, train_target = train_input[:args.train_subset], train_target[:args.train_subset]
    pairs = train_input.shape[0]
    print(f"{name}: training one epoch on {pairs} pairs (minutes for 50,000 on 2 CPU cores)...", flush=True)
    with report.check(f"{name}: one training epoch ({pairs} pairs), then PSNR again") as c:
        model = module.Model()
        model.load_pretrained_model()
        start = time.perf_counter()
        model.train(train_input, train_target, num_epochs=1)
        seconds = time.perf_counter() - start
        after_outputs = predict_in_batches(model, val_input)
        after = psnr(after_outputs, clean)
        if torch.equal(after_outputs, before_outputs):
            fail("train() left every prediction unchanged: are the optimizer's tensors the model's?")
        if not after >= before - args.max_psnr_drop:
            fail(f"PSNR dropped from {before:.2f} to {after:.2f} dB (allowed drop {args.max_psnr_drop} dB)")
        full_epoch = seconds * COURSE_EPOCH_PAIRS / pairs
        c.detail = (f"{before:.2f} -> {after:.2f} dB (allowed drop {args.max_psnr_drop} dB); {seconds:.1f} s, "
                    f"about {full_epoch / 60:.1f} min for the course's {COURSE_EPOCH_PAIRS} pairs")
        if full_epoch > COURSE_EPOCH_LIMIT_S:
            c.warn(f"{c.detail}: over the course's 30 minutes per CPU epoch")


# -- Miniproject_2's building blocks ----------------------------------------------------------

def grads_of(module, tensors, what):
    """The gradient tensors that ``param()`` pairs with ``tensors``, found by identity."""
    pairs = module.param()
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            fail(f"{what}.param() must list (tensor, gradient) pairs, got {pair!r}")
    grads = []
    for tensor in tensors:
        match = [g for p, g in pairs if p is tensor]
        if not match:
            fail(f"{what}.param() does not return the module's own weight/bias tensors")
        grads.append(match[0])
    return grads


def check_backward(module, x, reference, params, what):
    """Runs forward and backward twice and compares with torch.autograd.

    ``reference(x, *params)`` computes the same output with torch. The second
    pass checks that parameter gradients accumulate rather than overwrite.
    """
    float64 = x.dtype == torch.float64
    rtol, atol = (1e-7, 1e-10) if float64 else (1e-4, 1e-5)
    grads = grads_of(module, params, what)
    for pair_grad, param in zip(grads, params):
        if pair_grad.shape != param.shape:
            fail(f"{what}: a gradient has shape {tuple(pair_grad.shape)}, its parameter {tuple(param.shape)}")
    start = [g.clone() for g in grads]
    with torch.enable_grad():
        x_ref = x.clone().requires_grad_()
        params_ref = [p.detach().clone().requires_grad_() for p in params]
        y_ref = reference(x_ref, *params_ref)
        upstream = torch.randn_like(y_ref)
        y_ref.backward(upstream)
    for times in (1, 2):
        y = module.forward(x.clone())
        expect_close(y, y_ref.detach(), f"{what} forward", rtol, atol)
        grad_x = module.backward(upstream.clone())
        expect_close(grad_x, x_ref.grad, f"{what} input gradient", rtol, atol)
        for index, (grad, base, param_ref) in enumerate(zip(grads, start, params_ref)):
            label = "parameter gradient" if times == 1 else "parameter gradient after two backward passes"
            expect_close(grad - base, times * param_ref.grad, f"{what} {label} {index}", rtol, atol)
    return "float64" if float64 else "float32 (modules ignore the default dtype; looser tolerance)"


def block_checks(report, module):
    names = ["Conv2d", "Sigmoid", "Sequential", "ReLU", "MSE", "SGD", "Upsampling"]
    with report.check("Miniproject_2: blocks importable from Miniproject_2.model"):
        missing = [n for n in names if not hasattr(module, n)]
        if missing:
            fail(f"missing {', '.join(missing)}; the grader imports them from Miniproject_2.model")
        if not hasattr(module, "NearestUpsampling") and not hasattr(module, "TransposeConv2d"):
            fail("neither NearestUpsampling nor TransposeConv2d is defined")
    blocks = {n: getattr(module, n) for n in names + ["NearestUpsampling", "TransposeConv2d"]
              if hasattr(module, n)}
    Conv2d, Sigmoid, Sequential = (blocks.get(n) for n in ("Conv2d", "Sigmoid", "Sequential"))

    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    if Conv2d:
        with report.check("Miniproject_2: Conv2d(3, 3, 3).forward(x) == F.conv2d (grader)"):
            conv = Conv2d(3, 3, 3)
            expect_close(conv.forward(x), F.conv2d(x, conv.weight, conv.bias), "Conv2d")
    if Sigmoid:
        with report.check("Miniproject_2: Sigmoid().forward(x) == torch.sigmoid (grader)"):
            expect_close(Sigmoid().forward(x), torch.sigmoid(x), "Sigmoid")
    if Conv2d and Sigmoid and Sequential:
        with report.check("Miniproject_2: Sequential(conv, sigmoid) == F.conv2d(...).sigmoid() (grader)"):
            conv = Conv2d(3, 3, 3)
            expected = F.conv2d(x, conv.weight, conv.bias).sigmoid()
            expect_close(Sequential(conv, Sigmoid()).forward(x), expected, "Sequential")

    # Float64 makes the comparison with autograd exact to rounding; modules
    # that ignore the default dtype are compared in float32 instead.
    with default_dtype(torch.float64):
        layered_checks(report, blocks)
    sigmoid_extremes(report, blocks)
    sgd_check(report, blocks)


def layered_checks(report, blocks):
    dtype = torch.get_default_dtype()

    def data(*shape):
        return torch.randn(*shape, dtype=dtype)

    def checked(name, build, shape, reference):
        """Builds a module, then matches its forward and backward to ``reference``."""
        with report.check(f"Miniproject_2: {name} forward and backward vs torch.autograd") as c:
            module = build()
            params = [p for p in (getattr(module, "weight", None), getattr(module, "bias", None))
                      if p is not None]
            x = data(*shape).to(params[0].dtype) if params else data(*shape)
            c.detail = check_backward(module, x, reference, params, name)
            if not params and module.param() != []:
                fail(f"{name}.param() must be empty for a module without parameters")

    Conv2d = blocks.get("Conv2d")
    if Conv2d:
        for args, kwargs in (((3, 4, 3), {}), ((3, 4, 2), {"stride": 2}),
                             ((4, 3, 3), {"stride": 2, "padding": 1}),
                             ((3, 2, 3), {"padding": 2, "dilation": 2})):
            spelled = ", ".join([*map(str, args), *(f"{k}={v}" for k, v in kwargs.items())])
            c_in = args[0]
            checked(f"Conv2d({spelled})", lambda: Conv2d(*args, **kwargs), (2, c_in, 9, 11),
                    lambda x, w, b, kwargs=kwargs: F.conv2d(x, w, b, **kwargs))
    if "Upsampling" in blocks:
        checked("Upsampling(3, 4, 3, padding=1)", lambda: blocks["Upsampling"](3, 4, 3, padding=1),
                (2, 3, 5, 7),
                lambda x, w, b: F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, b, padding=1))
    if "NearestUpsampling" in blocks:
        checked("NearestUpsampling(scale_factor=2)", lambda: blocks["NearestUpsampling"](scale_factor=2),
                (2, 3, 5, 7), lambda x: F.interpolate(x, scale_factor=2, mode="nearest"))
    if "TransposeConv2d" in blocks:
        checked("TransposeConv2d(3, 4, 3, stride=2, padding=1)",
                lambda: blocks["TransposeConv2d"](3, 4, 3, stride=2, padding=1), (2, 3, 5, 7),
                lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1))
    if "ReLU" in blocks:
        checked("ReLU()", blocks["ReLU"], (2, 3, 5, 7), torch.relu)
    if "Sigmoid" in blocks:
        checked("Sigmoid()", blocks["Sigmoid"], (2, 3, 5, 7), torch.sigmoid)

    if "MSE" in blocks:
        with report.check("Miniproject_2: MSE forward and backward vs torch.autograd") as c:
            prediction, target = data(2, 3, 5, 7), data(2, 3, 5, 7)
            with torch.enable_grad():
                prediction_ref = prediction.clone().requires_grad_()
                loss_ref = F.mse_loss(prediction_ref, target)
                loss_ref.backward()
            mse = blocks["MSE"]()
            loss = mse.forward(prediction, target)
            expect_close(torch.as_tensor(loss, dtype=dtype).reshape(()), loss_ref.detach(), "MSE loss", 1e-7, 1e-10)
            expect_close(mse.backward(), prediction_ref.grad, "MSE gradient", 1e-7, 1e-10)

    names = ("Conv2d", "ReLU", "Upsampling", "Sigmoid", "Sequential")
    if all(n in blocks for n in names):
        with report.check("Miniproject_2: Sequential(Conv2d, ReLU, Upsampling, Sigmoid) backward") as c:
            conv = blocks["Conv2d"](3, 4, 2, stride=2)
            up = blocks["Upsampling"](4, 3, 3, padding=1)
            net = blocks["Sequential"](conv, blocks["ReLU"](), up, blocks["Sigmoid"]())
            params = [conv.weight, conv.bias, up.weight, up.bias]
            if [id(p) for p, _ in net.param()] != [id(p) for p in params]:
                fail("Sequential.param() must list its children's parameters, in order")

            def reference(x, w1, b1, w2, b2):
                hidden = F.relu(F.conv2d(x, w1, b1, stride=2))
                return torch.sigmoid(F.conv2d(F.interpolate(hidden, scale_factor=2), w2, b2, padding=1))

            c.detail = check_backward(net, data(2, 3, 8, 10).to(conv.weight.dtype), reference, params, "Sequential")


def sigmoid_extremes(report, blocks):
    if "Sigmoid" not in blocks:
        return
    with report.check("Miniproject_2: Sigmoid at |x| up to 100 (no NaN, float32)"):
        x = torch.linspace(-100, 100, 401).view(1, 1, 1, -1)
        with torch.enable_grad():
            x_ref = x.clone().requires_grad_()
            torch.sigmoid(x_ref).sum().backward()
        sigmoid = blocks["Sigmoid"]()
        expect_close(sigmoid.forward(x), torch.sigmoid(x), "Sigmoid")
        grad = sigmoid.backward(torch.ones_like(x))
        if not torch.isfinite(grad).all():
            fail("the gradient has NaN or inf at large |x|")
        expect_close(grad, x_ref.grad, "Sigmoid gradient", 1e-5, 1e-7)


def sgd_check(report, blocks):
    if "SGD" not in blocks or "Conv2d" not in blocks:
        return
    with report.check("Miniproject_2: SGD(conv.param(), lr=0.1).step() updates conv.weight in place"):
        conv = blocks["Conv2d"](3, 3, 3)
        conv.forward(torch.randn(2, 3, 8, 8))
        conv.backward(torch.randn(2, 3, 6, 6))
        grad_w, grad_b = grads_of(conv, [conv.weight, conv.bias], "Conv2d")
        expected_w, expected_b = conv.weight - 0.1 * grad_w, conv.bias - 0.1 * grad_b
        blocks["SGD"](conv.param(), lr=0.1).step()
        # Read back through the attributes: an optimizer that rebinds tensors
        # would update copies nobody uses.
        expect_close(conv.weight, expected_w, "weight after one step")
        expect_close(conv.bias, expected_b, "bias after one step")


# -- imports ------------------------------------------------------------------------------------

def dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def torch_name_kind(name):
    """'allowed', 'tolerated' or 'forbidden' for a dotted name under torch."""
    if name in ALLOWED_TORCH or name in TORCH_TYPES or name.startswith("torch.Tensor."):
        return "allowed"
    if isinstance(getattr(torch, name.split(".")[1], None) if name.count(".") == 1 else None, torch.dtype):
        return "allowed"
    if name in TOLERATED_TORCH:
        return "tolerated"
    return "forbidden"


@functools.lru_cache(maxsize=None)
def is_torch_module(name):
    try:
        return isinstance(importlib.import_module(name), types.ModuleType)
    except ImportError:
        return False


def scan_imports(path, package):
    """(name, line, kind) for every import and torch attribute used in one file.

    Kinds: 'allowed', 'tolerated', 'forbidden' (for torch), 'third-party'.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    aliases = {}  # local name -> the torch module it stands for
    found = []

    def classify_module(name, line):
        top = name.split(".")[0]
        if top == "torch":
            return
        # Miniproject_2 ships in the same folder and obeys the course's rule, so any
        # package of the project may build on it.
        if top in sys.stdlib_module_names or top in (package, "Miniproject_2"):
            return
        found.append((name, line, "third-party"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                classify_module(alias.name, node.lineno)
                if alias.name.split(".")[0] == "torch":
                    if alias.asname:
                        aliases[alias.asname] = alias.name
                    else:
                        aliases["torch"] = "torch"
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            classify_module(node.module, node.lineno)
            if node.module.split(".")[0] != "torch":
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if is_torch_module(full):
                    aliases[alias.asname or alias.name] = full
                else:
                    found.append((full, node.lineno, torch_name_kind(full)))

    values = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in values:
            parts = dotted(node)
            if parts and parts[0] in aliases:
                full = ".".join([aliases[parts[0]], *parts[1:]])
                if not is_torch_module(full):
                    found.append((full, node.lineno, torch_name_kind(full)))
    return found


def check_imports(report, project):
    for name, strict in (("Miniproject_2", True), ("Miniproject_1", False)):
        folder = project / name
        if not folder.is_dir():
            continue
        title = ("Miniproject_2: only the course's allowed imports" if strict
                 else "Miniproject_1: imports available on the grader's machine")
        with report.check(title) as c:
            problems = {"forbidden": [], "tolerated": [], "third-party": []}
            for path in sorted(folder.rglob("*.py")):
                for used, line, kind in scan_imports(path, name):
                    if kind != "allowed":
                        problems[kind].append(f"{used} ({path.relative_to(project)}:{line})")
            if problems["third-party"]:
                message = (f"imports outside the standard library and torch: {', '.join(problems['third-party'])}"
                           f"; the grader's machine may lack them")
                if strict:
                    fail(message)
                c.warn(message)
            if strict and problems["forbidden"]:
                fail(f"uses torch beyond empty/cat/arange, fold/unfold and tensor methods: "
                     f"{', '.join(problems['forbidden'])}")
            if strict and problems["tolerated"]:
                c.warn(f"uses torch switches outside the course's list (no computation, but check the "
                       f"rules): {', '.join(problems['tolerated'])}")
            c.detail = f"{sum(1 for _ in folder.rglob('*.py'))} files scanned"


# -- main -------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-p", "--project-path", required=True, type=Path,
                        help="the Proj_... folder holding Miniproject_1 and Miniproject_2")
    parser.add_argument("-d", "--data-path", type=Path,
                        help="folder with val_data.pkl and train_data.pkl; without it, no PSNR or training checks")
    parser.add_argument("--skip-train", action="store_true", help="skip the training epoch (the slow part)")
    parser.add_argument("--train-subset", type=int, metavar="N",
                        help="train on the first N pairs only (the grader uses all 50,000)")
    parser.add_argument("--max-psnr-drop", type=float, default=0.3, metavar="DB",
                        help="how far the PSNR may fall after one training epoch (default 0.3 dB: the "
                             "committed models learnt from unclipped targets at many noise levels, and "
                             "one epoch of course-format data, clipped at one level, moves them by about "
                             "0.2 dB; a broken training moves it far more, or not at all)")
    args = parser.parse_args(argv)
    if args.train_subset is not None and args.train_subset < 1:
        parser.error("--train-subset must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    report = Report()
    project = args.project_path.resolve()
    print(f"Checking {project} with torch {torch.__version__}\n", flush=True)
    if not check_structure(report, project):
        report.summary()
        return 1
    # In front, not appended as the grader does: an installed copy of the
    # same packages must not stand in for the folder under test.
    sys.path.insert(0, str(project))

    val = train = None
    if args.data_path is None:
        with report.check("data") as c:
            c.warn("no -d DATA_DIR: PSNR and training checks skipped")
    else:
        val = load_pairs(report, args.data_path / "val_data.pkl")
        if not args.skip_train:
            train = load_pairs(report, args.data_path / "train_data.pkl")

    for name in MINIPROJECTS:
        module = import_model(report, project, name)
        if module is None:
            continue
        # The course requires Miniproject_2 to work with autograd switched off.
        grad_enabled = name == "Miniproject_1"
        with torch.set_grad_enabled(grad_enabled):
            check_model(report, args, name, module, val, train)
            if name == "Miniproject_2":
                block_checks(report, module)
            with report.check(f"{name}: leaves torch's global settings alone") as c:
                if torch.get_default_dtype() != torch.float32:
                    fail(f"the default dtype is now {torch.get_default_dtype()}")
                if torch.is_grad_enabled() != grad_enabled:
                    fail(f"autograd was switched {'off' if grad_enabled else 'on'} globally")
    check_imports(report, project)
    return 0 if report.summary() else 1


if __name__ == "__main__":
    sys.exit(main())
