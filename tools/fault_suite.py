"""Fault-and-fuzz suite: bad inputs and faults against every public entry point.

    python tools/fault_suite.py [--cases N] [--kills K] [--seed S]

runs N generated cases per family (layers, Model configurations, predict and train
inputs, checkpoints, malicious pickles, data files, every ``n2n`` subcommand) and K
``kill -9`` cuts of a training run, then prints the totals per outcome:

- clear error: a ``ValueError``/``TypeError``/``FileNotFoundError``/``FloatingPointError``
  with a one-line message (in-process), or a documented exit status with one line on
  stderr (``n2n``);
- correct result: it worked, and the result was checked (shapes, range, finiteness,
  agreement with torch for the layers, every checkpoint on disk against its metrics);
- data lost, wrong silent results, raw tracebacks, code executed: must all be 0, and the
  command exits 1 if one is not.

``tests/test_fuzz.py`` runs the same families on a few hypothesis-drawn seeds in the
fast suite. Minutes for the defaults on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Proj_SCIPER"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from Miniproject_1 import model as mp1  # noqa: E402
from Miniproject_2 import model as mp2  # noqa: E402
from Miniproject_2.others import (Conv2d, NearestUpsampling, ReLU, Sigmoid, TransposeConv2d,  # noqa: E402
                                  Upsampling)
from Miniproject_2.others.plumbing import checkpoint  # noqa: E402
from n2n_nograd import cli, data, denoise  # noqa: E402

CLEAR, CORRECT, LOST, WRONG, TRACEBACK, EXECUTED = (
    "clear errors", "correct results", "data lost", "wrong silent results", "raw tracebacks", "code executed")
OUTCOMES = (CLEAR, CORRECT, LOST, WRONG, TRACEBACK, EXECUTED)
BAD = (LOST, WRONG, TRACEBACK, EXECUTED)
CLEAR_TYPES = (ValueError, TypeError, FileNotFoundError, FloatingPointError)
MODELS = {"nograd": mp2.Model, "torch": mp1.Model}
SMALL = {"channels": (4, 8), "batch_size": 4}
MARKER = "owned-by-fuzz"


# -- generated values -------------------------------------------------------------------------

def garbage(rng):
    """A value of a random kind, often one no argument should accept."""
    return rng.choice([
        lambda: rng.choice([0, 1, -1, 2, 3, 7, -5, 10 ** 30, 2 ** 64, -(2 ** 70)]),
        lambda: rng.choice([0.5, -0.0, 1e-12, 1e30, 1e39, float("nan"), float("inf"), -float("inf"), 3.0]),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice(["", "fast", "cpu", "adam", "1", "nan", "\x00"]),
        lambda: rng.choice([(1,), (2, 3), [4, 8], (1, 2, 3), (0, 1), ("a", "b"), (True, 2), []]),
        lambda: {"a": 1},
        lambda: torch.ones(rng.choice([(), (2,), (2, 2)])),
        lambda: b"bytes",
    ])()


def picture_tensor(rng, multiple=1):
    """Mostly plausible image batches (sides multiples of ``multiple``), often with one thing wrong."""
    shape = [rng.randint(1, 3), 3, rng.randint(1, 24 // multiple) * multiple, rng.randint(1, 24 // multiple) * multiple]
    if rng.random() < 0.3:
        shape[rng.randrange(4)] = rng.choice([0, 1, 2, 4, 5])
    if rng.random() < 0.15:
        shape = shape[:rng.randint(0, 3)] + ([rng.randint(1, 3)] if rng.random() < 0.5 else [])
    dtype = rng.choice([torch.uint8, torch.float32, torch.float64, torch.float16, torch.int64, torch.bool,
                        torch.int16, torch.uint8, torch.float32])
    x = torch.empty(shape).uniform_(0, 255)
    if rng.random() < 0.3:
        flat = x.view(-1)
        if flat.numel():
            flat[rng.randrange(flat.numel())] = rng.choice([-1.0, 256.0, float("nan"), float("inf"), 1e30])
    if rng.random() < 0.1:
        x = x / 255
    x = x.to(dtype)
    if rng.random() < 0.2 and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    if rng.random() < 0.2 and x.is_floating_point():
        x.requires_grad_()
    return x


# -- how a call went --------------------------------------------------------------------------

def one_line(message):
    return bool(message.strip()) and "\n" not in message.strip()


def attempt(call, check):
    """Run ``call()``; ``check(result)`` says whether a result is right. Returns (outcome, note)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call()
    except CLEAR_TYPES as error:
        if one_line(str(error)):
            return CLEAR, f"{type(error).__name__}: {error}"
        return TRACEBACK, f"multi-line {type(error).__name__}: {error}"
    except Exception as error:  # noqa: BLE001 - anything else is what the suite looks for
        return TRACEBACK, f"{type(error).__name__}: {error}"
    problem = check(result)
    return (WRONG, problem) if problem else (CORRECT, "")


# -- families -----------------------------------------------------------------------------------

LAYERS = {
    "Conv2d": (Conv2d, torch.nn.Conv2d),
    "TransposeConv2d": (TransposeConv2d, torch.nn.ConvTranspose2d),
    "Upsampling": (Upsampling, None),
    "NearestUpsampling": (NearestUpsampling, None),
}


def layers(rng, workdir):
    """Random constructor arguments and inputs; results compared with torch.nn."""
    name = rng.choice(list(LAYERS) + ["ReLU", "Sigmoid"])
    if name in ("ReLU", "Sigmoid"):
        x = picture_tensor(rng)
        ours = ReLU() if name == "ReLU" else Sigmoid()
        reference = torch.relu if name == "ReLU" else torch.sigmoid

        def check(y):
            # To rounding: the sigmoid's formula is torch's, not its kernel.
            tolerance = 1e-3 if y.dtype == torch.float16 else 1e-6
            same = torch.allclose(y, reference(x.detach()), rtol=tolerance, atol=tolerance, equal_nan=True)
            return None if same and not y.requires_grad else "differs from torch"
        return attempt(lambda: ours.forward(x), check)
    ours_class, torch_class = LAYERS[name]
    plausible = {"kernel_size": rng.randint(1, 4), "stride": rng.randint(1, 3), "padding": rng.randint(0, 2),
                 "dilation": rng.randint(1, 2)}
    kwargs = {}
    if name == "NearestUpsampling":
        kwargs = rng.choice([{"scale_factor": rng.choice([2, 0.5, 1.5, 3])}, {"size": rng.randint(1, 9)},
                             {"scale_factor": garbage(rng)}, {"size": garbage(rng)}, {}])
        args = ()
    else:
        args = (rng.randint(1, 4), rng.randint(1, 4))
        for key, value in plausible.items():
            if rng.random() < 0.5:
                kwargs[key] = value if rng.random() < 0.7 else garbage(rng)
        if name == "Upsampling":
            kwargs.pop("stride", None)
        if rng.random() < 0.2:
            args = (garbage(rng), args[1])
    x = torch.rand(rng.randint(1, 2), args[0] if args and isinstance(args[0], int) and 0 < args[0] <= 4 else 3,
                   rng.randint(0, 9), rng.randint(1, 9), dtype=torch.float64)

    def build_and_run():
        module = ours_class(*args, **kwargs)
        if name != "NearestUpsampling":
            module.to(torch.float64)
        out = module.forward(x)
        return module, out

    def check(result):
        module, out = result
        if name == "Upsampling":
            conv = torch.nn.Conv2d(*args, **kwargs, dtype=torch.float64)
            reference = lambda: conv(F.interpolate(x, scale_factor=module.scale_factor, mode="nearest"))  # noqa: E731
        elif name == "NearestUpsampling":
            # F.interpolate rather than the module, which refuses a list where it takes a tuple.
            reference = lambda: F.interpolate(x, **kwargs, mode="nearest")  # noqa: E731
        else:
            conv = torch_class(*args, **kwargs, dtype=torch.float64)
            reference = lambda: conv(x)  # noqa: E731
        if name != "NearestUpsampling":
            conv.load_state_dict(module.state_dict())
        try:
            expected = reference().detach()
        except Exception:  # noqa: BLE001
            return "torch refuses what this module accepted"
        return None if out.shape == expected.shape and torch.allclose(out, expected) else "differs from torch"
    return attempt(build_and_run, check)


def model_config(rng, workdir):
    """Random configurations: refused with ValueError, or a model that predicts and trains."""
    impl = rng.choice(list(MODELS))
    plausible = {"channels": rng.choice([(4, 8), (1, 1), (2, 3)]), "kernel_down": rng.randint(1, 6),
                 "padding_down": rng.randint(0, 3), "kernel_up": rng.randint(1, 7), "padding_up": rng.randint(0, 3),
                 "optimizer": rng.choice(["adam", "sgd"]), "lr": rng.choice([1e-3, 0.1, 10.0, 1e30]),
                 "momentum": rng.choice([0.0, 0.9]), "batch_size": rng.randint(1, 5), "seed": rng.randint(0, 99),
                 "device": rng.choice([None, "cpu"]), "arch": rng.choice(["simple", "deep"])}
    config = {}
    for key in rng.sample(sorted(plausible), rng.randint(1, 4)):
        config[key] = plausible[key] if rng.random() < 0.6 else garbage(rng)
    if impl == "nograd":
        config.pop("arch", None)
    if rng.random() < 0.05:
        config["colour"] = 1
    size = rng.choice([8, 12])
    x = (torch.rand(4, 3, size, size) * 255).to(torch.uint8)

    def use():
        model = MODELS[impl](**config)
        y = model.predict(x[:1, :, :size - 1])
        try:
            model.train(x, x.flip(0), 1)
        except FloatingPointError:
            pass  # a clear outcome of a legal but absurd learning rate; the model was restored
        return model, y

    def check(result):
        model, y = result
        if y.shape != (1, 3, size - 1, size) or not torch.isfinite(y).all():
            return "predict gave a wrong shape or non-finite values"
        return checkpoint.weight_problem(model.net.state_dict())
    return attempt(use, check)


def predict_inputs(rng, workdir):
    impl = rng.choice(list(MODELS))
    x = picture_tensor(rng) if rng.random() < 0.95 else garbage(rng)
    before = x.detach().clone() if isinstance(x, torch.Tensor) else None
    model = MODELS[impl](**SMALL)

    def check(y):
        if not torch.equal(x.detach(), before):
            return "predict changed its input"
        if y.shape != x.shape or not y.is_floating_point() or y.requires_grad:
            return f"wrong output {tuple(y.shape)} {y.dtype}"
        if not (torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 255):
            return "output outside [0, 255]"
        return None
    return attempt(lambda: model.predict(x), check)


def train_inputs(rng, workdir):
    impl = rng.choice(list(MODELS))
    a = picture_tensor(rng, multiple=rng.choice([1, 4, 4]))
    b = picture_tensor(rng) if rng.random() < 0.2 else a.detach().flip(0).clone()
    # Not garbage(): a valid but huge count (10**30 epochs) would train for ever, as asked.
    epochs = rng.choice([1, 1, 2, 0, 1, 1, 2, 0, -1, 1.5, True, "2", None, float("nan"), (1,)])
    model = MODELS[impl](**SMALL)
    before = {k: v.detach().clone() for k, v in model.net.state_dict().items()}

    def check(losses):
        if len(losses) != epochs or not all(math.isfinite(loss) for loss in losses):
            return f"losses {losses} for num_epochs={epochs!r}"
        if any(v.requires_grad or v.grad_fn is not None for v in model.net.state_dict().values()):
            return "weights joined an autograd graph"
        return checkpoint.weight_problem(model.net.state_dict())

    outcome = attempt(lambda: model.train(a, b, epochs), check)
    if outcome[0] == CLEAR and model.epochs_trained == 0 and any(
            not torch.equal(before[k], v) for k, v in model.net.state_dict().items()):
        return LOST, "a refused or diverged train call changed the weights"
    return outcome


_BASE = {}


def _base_checkpoint(impl, workdir):
    if impl not in _BASE:
        torch.manual_seed(0)
        model = MODELS[impl](channels=(4, 8), batch_size=4)
        model.train((torch.rand(8, 3, 8, 8) * 255).to(torch.uint8), (torch.rand(8, 3, 8, 8) * 255).to(torch.uint8))
        path = Path(workdir) / f"base-{impl}.pkl"
        model.save_model(path)
        _BASE[impl] = path
    return torch.load(_BASE[impl], weights_only=True), _BASE[impl]


def _mutate(value, rng):
    """``value`` with one random leaf replaced, removed or damaged."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        if rng.random() < 0.1:
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: _mutate(value[key], rng)}
    if isinstance(value, (list, tuple)) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        return type(value)([*value[:i], _mutate(value[i], rng), *value[i + 1:]])
    if isinstance(value, torch.Tensor) and rng.random() < 0.7:
        damaged = value.clone()
        choice = rng.randrange(5)
        if choice == 0 and damaged.numel() and damaged.is_floating_point():
            damaged.view(-1)[rng.randrange(damaged.numel())] = rng.choice([float("nan"), float("inf"), 1e38, -3e7])
        elif choice == 1 and damaged.is_floating_point():
            damaged = damaged * rng.choice([1e10, -1, 0, 1e-10])
        elif choice == 2:
            damaged = damaged.reshape(-1)[:max(0, damaged.numel() - 1)]
        elif choice == 3:
            damaged = damaged.to(rng.choice([torch.float64, torch.int64, torch.bool, torch.float16]))
        else:
            damaged = damaged.unsqueeze(0)
        return damaged
    return garbage(rng)


def checkpoints(rng, workdir):
    """Mutated and damaged checkpoints: a failed load must change nothing, a load must be sane."""
    impl = rng.choice(list(MODELS))
    payload, base = _base_checkpoint(impl, workdir)
    path = Path(workdir) / f"mutant-{rng.randrange(10 ** 9)}.pkl"
    if rng.random() < 0.8:
        torch.save(_mutate(payload, rng), path)
    else:
        raw = bytearray(base.read_bytes())
        if rng.random() < 0.5:
            raw = raw[:rng.randrange(len(raw))]
        else:
            for _ in range(rng.randint(1, 20)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw))
    model = MODELS[impl](channels=(2, 3), seed=11)
    before = (dict(model.config), {k: v.clone() for k, v in model.net.state_dict().items()},
              model.epochs_trained)

    def check(_):
        problem = checkpoint.weight_problem(model.net.state_dict())
        y = model.predict((torch.rand(1, 3, 9, 9) * 255).to(torch.uint8))
        return problem or (None if torch.isfinite(y).all() else "loaded model predicts non-finite values")

    outcome = attempt(lambda: model.load_model(path), check)
    path.unlink()
    if outcome[0] != CORRECT:
        after = (model.config, model.net.state_dict(), model.epochs_trained)
        if after[0] != before[0] or after[2] != before[2] or any(
                not torch.equal(before[1][k], v) for k, v in after[1].items()):
            return LOST, f"a failed load changed the model ({outcome[1]})"
    return outcome


class _Evil:
    def __init__(self, how, marker):
        self.how, self.marker = how, marker

    def __reduce__(self):
        if self.how == "system":
            return (os.system, (f"touch {self.marker}",))
        if self.how == "eval":
            return (eval, (f"open({str(self.marker)!r}, 'w').close()",))
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def malicious(rng, workdir):
    """Pickles that run code when unpickled, in every file the project reads."""
    marker = Path(workdir) / MARKER
    evil = _Evil(rng.choice(["system", "eval", "exec"]), marker)
    target = rng.choice(["nograd", "torch", "train data", "cli evaluate"])
    payload = rng.choice([
        evil, {"format": checkpoint.FORMAT, "config": evil}, (evil, torch.zeros(1)),
        {"format": mp1.CHECKPOINT_FORMAT, "state_dict": {"w": evil}}, [evil]])
    path = Path(workdir) / "evil.pkl"
    if rng.random() < 0.5:
        torch.save(payload, path)
    else:
        with path.open("wb") as file:
            pickle.dump(payload, file)
    if target in MODELS:
        outcome = attempt(lambda: MODELS[target]().load_model(path), lambda _: "a malicious pickle loaded")
    elif target == "train data":
        outcome = attempt(lambda: data.load_pairs(path, "train"), lambda _: "a malicious pickle loaded")
    else:
        outcome = run_cli(["evaluate", "--checkpoint", str(path), "--data", str(_dataset(workdir))])
    if marker.exists():
        marker.unlink()
        return EXECUTED, f"code ran while loading into {target}"
    return outcome


def data_files(rng, workdir):
    kind = rng.choice(["train", "val"])
    path = Path(workdir) / "fuzz_data.pkl"
    shape = (rng.randint(0, 3), rng.choice([3, 3, 1]), rng.randint(1, 5), rng.randint(1, 5))
    good = (torch.rand(shape) * 255).to(torch.uint8)
    other = good.clone() if rng.random() < 0.7 else _mutate(good, rng)
    payload = rng.choice([(good, other), [good, other], (good,), (good, other, good), garbage(rng),
                          {"a": good}, (good.float(), other)])
    torch.save(payload, path)

    def check(result):
        a, b = result
        ok = a.dtype == b.dtype == torch.uint8 and a.dim() == 4 and a.shape == b.shape and a.shape[1] == 3
        return None if ok and a.shape[0] > 0 else "load_pairs returned a malformed pair"
    return attempt(lambda: data.load_pairs(path, kind), check)


# -- the command line -----------------------------------------------------------------------------

def run_cli(argv):
    """``n2n argv`` in this process: (outcome, note) from its exit status and stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = cli.main(argv)
    except SystemExit as exit:  # argparse: usage line + one error line, status 2
        status = exit.code
        lines = [line for line in err.getvalue().strip().splitlines() if not line.startswith(("usage:", " "))]
        return (CLEAR, lines[-1]) if status == 2 and len(lines) == 1 else (TRACEBACK, err.getvalue())
    except BaseException as error:  # noqa: BLE001
        return TRACEBACK, f"{argv}: {type(error).__name__}: {error}"
    message = err.getvalue().strip()
    if status == 0:
        return CORRECT, ""
    if status in (cli.EXIT_DIVERGED, cli.EXIT_ERROR, cli.EXIT_IO, cli.EXIT_COLLAPSED) and one_line(message) \
            and "Traceback" not in message:
        return CLEAR, message
    return TRACEBACK, f"{argv}: status {status}: {message}"


def _dataset(workdir):
    folder = Path(workdir) / "dataset"
    if not (folder / data.VAL_FILE).is_file():
        data.build(folder, n_train=24, n_val=8, seed=1)
    return folder


def _pictures(workdir):
    folder = Path(workdir) / "pictures"
    if not folder.is_dir():
        folder.mkdir()
        Image.effect_noise((23, 17), 40).convert("RGB").save(folder / "rgb.png")
        Image.fromarray(np.full((9, 9), 50000, dtype=np.uint16)).save(folder / "grey16.png")
        (folder / "junk.png").write_text("not a picture")
        (folder / "dir.png").mkdir()
    return folder


def cli_commands(rng, workdir):
    """Random ``n2n`` command lines, plausible and not."""
    dataset, pictures = _dataset(workdir), _pictures(workdir)
    scratch = Path(workdir) / f"cli-{rng.randrange(10 ** 9)}"
    checkpoints_ = [str(_base_checkpoint("nograd", workdir)[1]), str(scratch / "missing.pkl"), str(pictures),
                    str(pictures / "junk.png")]

    def value(good):
        # Not huge valid counts: 10**30 epochs or pictures would run for ever or fill the
        # memory, as asked.
        return good if rng.random() < 0.75 else rng.choice(
            ["0", "-1", "1.5", "abc", "", "nan", "inf", "-inf", "1e39", "1e30", "\x00", "None", "[1, 2]"])
    command = rng.choice(["data", "train", "train", "evaluate", "denoise", "plots", "train-resume"])
    if command == "data":
        argv = ["data", "--out", str(scratch), "--n-train", value("8"), "--n-val", value("4"),
                "--size", value(rng.choice(["8", "12", "3"]))]
        if rng.random() < 0.2:
            argv += ["--photos", rng.choice([str(pictures), str(scratch / "none")])]
    elif command.startswith("train"):
        out = scratch if rng.random() < 0.9 else pictures / "junk.png" / "run"  # a file in the way
        argv = ["train", "--data", value(str(dataset)), "--subset", value(rng.choice(["4", "8"])),
                "--epochs", value(rng.choice(["1", "2"])), "--out", str(out)]
        for option, good in (("--lr", rng.choice(["0.001", "1e30", "10", "1e38"])),
                             ("--batch-size", rng.choice(["2", "4"])), ("--seed", rng.choice(["0", "7"])),
                             ("--impl", rng.choice(["nograd", "torch"])), ("--optimizer", rng.choice(["adam", "sgd"])),
                             ("--device", rng.choice(["cpu", "cpux"]))):
            if rng.random() < 0.3:
                argv += [option, value(good)]
        if command == "train-resume":
            run_cli(argv)
            argv = ["train", "--out", str(scratch), "--resume", "--epochs", value("3")]
    elif command == "evaluate":
        argv = ["evaluate", "--data", value(str(dataset)), "--checkpoint", rng.choice(checkpoints_)]
    elif command == "denoise":
        picture = rng.choice(["rgb.png", "grey16.png", "junk.png", "dir.png", "none.png"])
        argv = ["denoise", str(pictures / picture), str(scratch / rng.choice(["o.png", "o.jpg", "o.xyz"])),
                "--checkpoint", rng.choice(checkpoints_)]
        if rng.random() < 0.8:
            scratch.mkdir(parents=True, exist_ok=True)
    else:
        argv = ["plots", rng.choice([str(scratch), str(dataset), str(pictures / "junk.png")])]
    return run_cli(argv)


FAMILIES = {"layers": layers, "model config": model_config, "predict inputs": predict_inputs,
            "train inputs": train_inputs, "checkpoints": checkpoints, "malicious pickles": malicious,
            "data files": data_files, "n2n commands": cli_commands}


# -- kill -9 during training ------------------------------------------------------------------

def check_run_folder(out, noisy, clean):
    """Every checkpoint on disk loads, has finite weights and matches its metrics record."""
    problems = []
    metrics = out / "metrics.jsonl"
    records = {}
    if metrics.is_file():
        for line in metrics.read_text().splitlines():
            record = json.loads(line)
            records[record["epoch"]] = record
    for name in ("checkpoint.pkl", "best.pkl"):
        if not (out / name).exists():
            continue
        model = mp2.Model()
        try:
            model.load_model(out / name)
        except (ValueError, OSError) as error:
            problems.append(f"{name} does not load: {error}")
            continue
        record = records.get(model.epochs_trained)
        if record is None:
            problems.append(f"{name} (epoch {model.epochs_trained}) has no metrics record")
        elif abs(denoise.validation_psnr(model, noisy, clean) - record["val_psnr"]) > 1e-6:
            problems.append(f"{name} does not match the record of epoch {model.epochs_trained}")
    return problems


def kill_loop(kills, rng, workdir, epochs=4):
    """Train in a subprocess, SIGKILL it at random moments, check the folder, resume; repeat."""
    dataset = _dataset(workdir)
    noisy, clean = data.load_pairs(dataset / data.VAL_FILE, "val")
    counts, notes = Counter(), []
    out = Path(workdir) / "killed-run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "Proj_SCIPER"), str(ROOT)])}
    for _ in range(kills):
        resume = ["--resume"] if (out / "run.json").is_file() else ["--data", str(dataset), "--subset", "16"]
        process = subprocess.Popen([sys.executable, "-m", "n2n_nograd", "train", "--out", str(out),
                                    "--epochs", str(epochs), "--batch-size", "4", *resume],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        time.sleep(rng.uniform(1.0, 6.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        _, err = process.communicate()
        status = process.returncode
        problems = check_run_folder(out, noisy, clean)
        if status not in (0, -signal.SIGKILL):
            problems.append(f"exit status {status}: {err.decode()[-300:]}")
        counts[LOST if problems else (CORRECT if status == 0 else CLEAR)] += 1
        notes += problems
        if status == 0:
            out = Path(workdir) / f"killed-run-{rng.randrange(10 ** 9)}"
    return counts, notes


# -- main -----------------------------------------------------------------------------------------

def run_families(cases, seed, workdir, families=None):
    counts, notes = Counter(), []
    for name, family in (families or FAMILIES).items():
        rng = random.Random(f"{seed}-{name}")
        for _ in range(cases):
            outcome, note = family(rng, workdir)
            counts[outcome] += 1
            if outcome in BAD:
                notes.append(f"{name}: {outcome}: {note}")
    return counts, notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=150, help="generated cases per family (default: 150)")
    parser.add_argument("--kills", type=int, default=12, help="kill -9 cuts of a training run (default: 12)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        counts, notes = run_families(args.cases, args.seed, workdir)
        kill_counts, kill_notes = kill_loop(args.kills, random.Random(args.seed), workdir)
    counts += kill_counts
    for note in notes + kill_notes:
        print(note)
    print(f"cases tried: {sum(counts.values())} ({args.cases} per family x {len(FAMILIES)} families, "
          f"{args.kills} kill -9 cuts) in {time.perf_counter() - started:.0f} s")
    for outcome in OUTCOMES:
        print(f"{outcome + ':':<22}{counts[outcome]}")
    return 1 if any(counts[outcome] for outcome in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
