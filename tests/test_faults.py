"""Nothing lost, nothing silently wrong: checkpoints, loading, inputs and the command line
under faults (issue 12). Each case found by hand is a test here; ``tests/test_fuzz.py``
generates the bad inputs, and ``python tools/fault_suite.py`` is the long run.
"""
import errno
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import message_lines
from Miniproject_1 import model as mp1
from Miniproject_2 import model as mp2
from Miniproject_2.others import (MSE, AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, NearestUpsampling, ReLU, Sigmoid,
                                  TransposeConv2d, Upsampling)
from Miniproject_2.others.plumbing import checkpoint
from n2n_nograd import cli, data, denoise, training

SMALL = {"channels": (4, 8), "batch_size": 8}
IMPLEMENTATIONS = {"nograd": mp2.Model, "torch": mp1.Model}

pytestmark = pytest.mark.usefixtures("one_thread")


def pairs(n, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(n, 3, size, size, generator=g) * 255).to(torch.uint8) for _ in range(2)]


def weights(model):
    return {key: value.detach().clone() for key, value in model.net.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line(err):
    return "Traceback" not in err and len(message_lines(err)) == 1


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    data.build(out, n_train=64, n_val=16, seed=3)
    return out


# -- 1. a diverging step is never kept ---------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_diverging_last_step_of_an_epoch_is_undone(impl):
    # One batch per epoch: the step that breaks the weights is the epoch's last, which the
    # loss check before each step cannot see.
    a, b = pairs(8)
    model = IMPLEMENTATIONS[impl](**{**SMALL, "lr": 1e30})
    before = weights(model)
    with pytest.raises(FloatingPointError, match="diverged|weight"):
        model.train(a, b, num_epochs=3)
    assert model.epochs_trained == 0 and same_weights(before, weights(model))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -1e-3, 0, "fast", True, 1e31])
def test_a_learning_rate_that_cannot_train_is_refused(impl, lr):
    with pytest.raises(ValueError, match="lr must be"):
        IMPLEMENTATIONS[impl](lr=lr)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e30])
def test_non_finite_or_huge_weights_are_never_saved(tmp_path, impl, bad):
    model = IMPLEMENTATIONS[impl](**SMALL)
    next(iter(model.net.state_dict().values())).view(-1)[0] = bad
    with pytest.raises(ValueError, match="refusing to save"):
        model.save_model(tmp_path / "m.pkl")
    assert os.listdir(tmp_path) == []


def test_a_diverging_cli_run_keeps_no_non_finite_checkpoint(capsys, dataset, tmp_path):
    out = tmp_path / "x"
    status, _, err = run(capsys, "train", "--data", dataset, "--lr", "1e30", "--subset", 32, "--epochs", 3,
                         "--out", out)
    assert status == cli.EXIT_DIVERGED and one_line(err) and "diverged" in err
    assert not (out / "checkpoint.pkl").exists() and not (out / "metrics.jsonl").exists()


# -- 2. a failed load changes nothing ----------------------------------------------------------

def _crafted(impl, tmp_path, change):
    """A checkpoint of ``impl``, one epoch trained (so it has optimizer state), with
    ``change(payload)`` applied."""
    path = tmp_path / "crafted.pkl"
    model = IMPLEMENTATIONS[impl](channels=(32, 64))
    model.train(*pairs(16))
    model.save_model(path)
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    return path


def _set(*keys, value):
    def change(payload):
        target = payload
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _scale_first_weight(factor):
    def change(payload):
        next(iter(payload["state_dict"].values())).view(-1)[0] *= factor
    return change


def _first_weight(value):
    def change(payload):
        next(iter(payload["state_dict"].values())).view(-1)[0] = value
    return change


def _drop(*keys):
    def change(payload):
        target = payload
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return change


CRAFTED = {
    "channels do not fit the weights": (_set("config", "channels", value=[16, 32]), "does not fit|does not match"),
    "kernel_up=2": (_set("config", "kernel_up", value=2), "kernel_up"),
    "lr='fast'": (_set("config", "lr", value="fast"), "lr must be"),
    "batch_size=-5": (_set("config", "batch_size", value=-5), "batch_size must be"),
    "batch_size=True": (_set("config", "batch_size", value=True), "batch_size must be"),
    "optimizer='bogus'": (_set("config", "optimizer", value="bogus"), "optimizer must be"),
    "epochs_trained=-5": (_set("epochs_trained", value=-5), "epochs_trained"),
    "epochs_trained='1'": (_set("epochs_trained", value="1"), "epochs_trained"),
    "a config key missing": (_drop("config", "momentum"), "missing"),
    "config not a dict": (_set("config", value=[1, 2]), "must be dicts"),
    "NaN weight": (_first_weight(float("nan")), "non-finite"),
    "inf weight": (_first_weight(float("inf")), "non-finite"),
    "flipped exponent bit (1e38)": (_first_weight(1e38), "magnitude"),
    "weights x 1e10": (_scale_first_weight(1e10), "magnitude"),
    "rng_state garbage": (_set("rng_state", value=(1, 2)), "rng_state"),
    "format of the other model": (_set("format", value="n2n-something-else"), "not written by"),
}


def _first_weight_is_text(payload):
    payload["state_dict"][next(iter(payload["state_dict"]))] = "text"


CRAFTED["state_dict value not a tensor"] = (_first_weight_is_text, "not a tensor")


def _optimizer_state_of_wrong_shape(payload):
    state = payload["optimizer"]["state"]
    key = next(iter(state))
    value = state[key]
    if isinstance(value, tuple):  # Miniproject_2's Adam: (step, exp_avg, exp_avg_sq)
        state[key] = (value[0], value[1][:1], value[2])
    else:  # torch.optim's Adam
        value["exp_avg"] = value["exp_avg"][:1]


CRAFTED["optimizer state of the wrong shape"] = (_optimizer_state_of_wrong_shape, "fit|match|shape")


def _optimizer_state_is_a_tensor(payload):
    state = payload["optimizer"]["state"]
    state[next(iter(state))] = torch.ones(2, 2)


# Both found by the fuzz suite: torch.optim and random.setstate index and compare what they get.
CRAFTED["optimizer state a tensor"] = (_optimizer_state_is_a_tensor, "fit|match|saved state")
CRAFTED["rng_state a tensor"] = (_set("rng_state", value=torch.ones(2, 2)), "rng_state")


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", CRAFTED)
def test_a_failed_load_raises_value_error_naming_the_file_and_changes_nothing(tmp_path, impl, case):
    change, message = CRAFTED[case]
    path = _crafted(impl, tmp_path, change)

    model = IMPLEMENTATIONS[impl](**SMALL, seed=7)
    before = (dict(model.config), weights(model), model.epochs_trained, model._random.getstate())
    with pytest.raises(ValueError, match=message) as error:
        model.load_model(path)
    assert str(path) in str(error.value)
    assert (model.config, model.epochs_trained, model._random.getstate()) == (before[0], before[2], before[3])
    assert same_weights(before[1], weights(model))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_loading_a_directory_says_so(tmp_path, impl):
    with pytest.raises(ValueError, match="is a directory"):
        IMPLEMENTATIONS[impl]().load_model(tmp_path)


# -- 3. metrics and checkpoints agree whenever the run is killed -------------------------------

class Killed(BaseException):
    """Stands for kill -9: nothing after it runs (the real thing is in tools/fault_suite.py)."""


def _check_run(out, impl="nograd"):
    """Every checkpoint on disk loads, is finite and matches its metrics record."""
    records = {r["epoch"]: r for r in (json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines())}
    noisy, clean = data.load_pairs(json.loads((out / "run.json").read_text())["data"] + "/val_data.pkl", "val")
    for name in ("checkpoint.pkl", "best.pkl"):
        model = IMPLEMENTATIONS[impl]()
        model.load_model(out / name)
        assert checkpoint.weight_problem(model.net.state_dict()) is None
        assert model.epochs_trained in records, name
        psnr = denoise.validation_psnr(model, noisy, clean)
        assert psnr == pytest.approx(records[model.epochs_trained]["val_psnr"], abs=1e-6), name
    best = max(records.values(), key=lambda r: r["val_psnr"])["epoch"]
    return sorted(records), best


@pytest.mark.parametrize("kill_at", range(2, 6))
def test_a_kill_between_the_writes_of_an_epoch_is_repaired_by_resume(capsys, dataset, tmp_path, monkeypatch,
                                                                     kill_at):
    # Writes: run.json, metrics 1, checkpoint 1, best 1, metrics 2, checkpoint 2, best 2 ...
    out = tmp_path / "r"
    calls = []
    real = checkpoint.write_atomic

    def write_or_die(data, path):
        calls.append(path)
        if len(calls) == kill_at:
            raise Killed
        real(data, path)

    monkeypatch.setattr(checkpoint, "write_atomic", write_or_die)
    monkeypatch.setattr(training, "write_atomic", write_or_die)
    argv = ["train", "--data", dataset, "--subset", 32, "--epochs", 3, "--out", out]
    with pytest.raises(Killed):
        run(capsys, *argv)
    # What a real kill -9 leaves besides: a temporary file of the write it cut short.
    (out / ".tmp-killed.pkl").write_bytes(b"half a checkpoint")
    monkeypatch.setattr(checkpoint, "write_atomic", real)
    monkeypatch.setattr(training, "write_atomic", real)
    status = run(capsys, "train", "--out", out, "--resume", "--epochs", 3)[0]
    assert status == 0
    epochs, best = _check_run(out)
    assert epochs == [1, 2, 3]
    assert not list(out.glob(".tmp-*"))


def test_resume_of_a_run_killed_in_its_first_epoch_starts_it_again(capsys, dataset, tmp_path, monkeypatch):
    out = tmp_path / "r"
    real = checkpoint.write_atomic

    def die_on_checkpoint(data, path):
        if Path(path).name == "checkpoint.pkl":
            raise Killed
        real(data, path)

    monkeypatch.setattr(checkpoint, "write_atomic", die_on_checkpoint)
    with pytest.raises(Killed):
        run(capsys, "train", "--data", dataset, "--subset", 32, "--epochs", 2, "--out", out)
    assert (out / "metrics.jsonl").is_file() and not (out / "checkpoint.pkl").exists()
    monkeypatch.setattr(checkpoint, "write_atomic", real)
    assert run(capsys, "train", "--out", out, "--resume", "--epochs", 2)[0] == 0
    assert _check_run(out)[0] == [1, 2]


# -- 4. the committed checkpoint is never overwritten by default ------------------------------

@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_save_model_needs_a_path(impl):
    committed = {"nograd": mp2.CHECKPOINTS["simple"], "torch": Path(mp1.__file__).with_name("bestmodel.pth")}[impl]
    before = committed.read_bytes()
    with pytest.raises(TypeError):
        IMPLEMENTATIONS[impl]().save_model()
    assert committed.read_bytes() == before


# -- wrong results without an error ------------------------------------------------------------

def test_a_dark_16_bit_png_keeps_its_scale(tmp_path):
    path = tmp_path / "dark16.png"
    values = np.full((8, 8), 200 * 257 // 256, dtype=np.uint16)  # about 0.3% of full scale
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    picture = denoise.read_picture(path)
    assert picture.max().item() <= 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_training_and_predicting_are_inert_to_autograd(impl):
    a, b = pairs(16)
    a, b = a.float().requires_grad_(), b.float().requires_grad_()
    model = IMPLEMENTATIONS[impl](**SMALL)
    with torch.enable_grad():
        model.train(a, b)
        out = model.predict(a)
    assert not out.requires_grad and out.grad_fn is None
    assert all(t.grad_fn is None for t in model.net.state_dict().values())


@pytest.mark.parametrize("make", [lambda: Conv2d(3, 4, 3), lambda: TransposeConv2d(3, 4, 3),
                                  lambda: Upsampling(3, 4, 3, padding=1), lambda: NearestUpsampling(scale_factor=2),
                                  ReLU, Sigmoid, LeakyReLU, lambda: MaxPool2d(2), lambda: AvgPool2d(2)],
                         ids=["Conv2d", "TransposeConv2d", "Upsampling", "NearestUpsampling", "ReLU", "Sigmoid",
                              "LeakyReLU", "MaxPool2d", "AvgPool2d"])
def test_layers_do_not_grow_a_callers_autograd_graph(make):
    module = make()
    x = torch.rand(2, 3, 6, 6, requires_grad=True)
    with torch.enable_grad():
        y = module.forward(x)
        module.backward(torch.rand(y.shape, requires_grad=True))
    assert not y.requires_grad
    assert all(not grad.requires_grad and not param.requires_grad for param, grad in module.param())


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_predict_runs_a_large_picture_in_bounded_tiles_equal_to_one_pass(monkeypatch, impl):
    module = {"nograd": mp2, "torch": mp1}[impl]
    budget = {"nograd": "PREDICT_PIXELS", "torch": "PREDICT_PIXEL_BUDGET"}[impl]
    for config in ({"channels": (4, 8)}, {"channels": (4, 8), "kernel_down": 6, "padding_down": 2,
                                          "kernel_up": 7, "padding_up": 3}):
        torch.manual_seed(0)
        model = IMPLEMENTATIONS[impl](**config)
        picture = torch.randint(0, 256, (2, 3, 203, 150), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
        whole = model.predict(picture)
        monkeypatch.setattr(module, budget, 128 * 128)
        seen = []
        forward = model.net.forward

        def spy(x):
            seen.append(x.shape[2] * x.shape[3] * x.shape[0])
            return forward(x)

        monkeypatch.setattr(model.net, "forward", spy)
        tiled = model.predict(picture)
        monkeypatch.undo()
        assert max(seen) <= 128 * 128 and len(seen) > 2
        assert torch.allclose(whole, tiled, atol=1e-3), (whole - tiled).abs().max()
        uint8 = model.predict(picture, out=torch.empty_like(picture))
        assert uint8.dtype == torch.uint8 and (uint8.float() - whole).abs().max() <= 0.5 + 1e-3


@pytest.mark.parametrize("make, changed", [
    (lambda: Conv2d(3, 4, 3), "input"), (lambda: TransposeConv2d(3, 4, 3), "input"),
    (lambda: Upsampling(3, 4, 3, padding=1), "input"), (ReLU, "output"), (Sigmoid, "output"),
    (MSE, "input"), (LeakyReLU, "input"), (lambda: MaxPool2d(2), "input"), (lambda: AvgPool2d(2), "input"),
], ids=["Conv2d", "TransposeConv2d", "Upsampling", "ReLU", "Sigmoid", "MSE", "LeakyReLU", "MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_changing_an_input_or_output_in_place_before_backward_never_changes_the_gradient(make, changed, layout):
    """torch raises there; so do we whenever the change would reach the gradient (a layer
    that kept its own copy computes the right gradient anyway)."""
    def gradients(change):
        torch.manual_seed(0)
        module = make()
        inputs = torch.rand(2, 3, 6, 6).contiguous(memory_format=layout)
        y = module.forward(inputs, inputs.flip(0)) if isinstance(module, MSE) else module.forward(inputs)
        if change:
            (inputs if changed == "input" else y).mul_(2)
        grad = module.backward(torch.ones(y.shape) if y.dim() else 1.0)
        return [grad] + [g.clone() for _, g in module.param()]

    reference = gradients(change=False)
    try:
        changed_result = gradients(change=True)
    except RuntimeError as error:
        assert "modified in place" in str(error)
        return
    assert all(torch.equal(a, b) for a, b in zip(reference, changed_result))


@pytest.mark.parametrize("make", [lambda: Conv2d(3, 4, 3), ReLU, Sigmoid, LeakyReLU])
def test_an_in_place_change_that_would_reach_the_gradient_is_detected(make):
    module = make()
    x = torch.rand(2, 3, 6, 6)
    y = module.forward(x)
    (x if isinstance(module, Conv2d) else y).mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        module.backward(torch.ones(y.shape))


def test_a_collapsing_run_warns_then_stops_with_its_own_status(capsys, dataset, tmp_path, monkeypatch):
    psnrs = iter([24.0, 23.0, 10.0, 30.0])
    monkeypatch.setattr(training, "validation_psnr", lambda *args: next(psnrs))
    status, out, err = run(capsys, "train", "--data", dataset, "--subset", 16, "--epochs", 4,
                           "--out", tmp_path / "r")
    assert status == cli.EXIT_COLLAPSED and one_line(err) and "collapsed" in err
    assert "worse than the noisy input" in out
    best = mp2.Model()
    best.load_model(tmp_path / "r" / "best.pkl")
    assert best.epochs_trained == 1


def test_a_noiseless_validation_picture_does_not_make_every_epoch_look_worse(capsys, dataset, tmp_path,
                                                                           monkeypatch):
    """A validation set with a picture drawn at sigma near 0 reads an infinite input PSNR: no
    warning then, and only a drop from the best epoch stops the run."""
    monkeypatch.setattr(training, "input_psnr", lambda *args: math.inf)
    psnrs = iter([24.0, 23.0, 30.0, 26.0])
    monkeypatch.setattr(training, "validation_psnr", lambda *args: next(psnrs))
    status, out, err = run(capsys, "train", "--data", dataset, "--subset", 16, "--epochs", 4,
                           "--out", tmp_path / "r")
    assert status == cli.EXIT_COLLAPSED and "collapsed" in err
    assert "worse than the noisy input" not in out and "epoch 4/4" in out


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("config, message", [
    ({"kernel_up": 2, "padding_up": 1}, "kernel_up must equal"),
    ({"kernel_down": 3}, "kernel_down - 2 \\* padding_down"),
    ({"num_epochs": 1}, "unknown configuration keys"),
    ({"batch_size": True}, "batch_size must be"),
    ({"batch_size": 2.0}, "batch_size must be"),
    ({"channels": (8, True)}, "channels must be"),
    ({"momentum": 1.0}, "momentum must be"),
    ({"seed": 99999999999999999999999}, "seed must be"),
    ({"seed": 1.5}, "seed must be"),
    ({"device": "cpux"}, "not a torch device"),
    ({"optimizer": "bogus"}, "optimizer must be"),
])
def test_both_models_validate_their_configuration_alike(impl, config, message):
    with pytest.raises(ValueError, match=message):
        IMPLEMENTATIONS[impl](**config)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("num_epochs", [True, 1.0, -1, "2"])
def test_num_epochs_must_be_a_count(impl, num_epochs):
    with pytest.raises(ValueError, match="num_epochs"):
        IMPLEMENTATIONS[impl](**SMALL).train(*pairs(8), num_epochs=num_epochs)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("values", [-1.0, 256.0, float("nan"), float("inf")])
def test_values_outside_0_255_are_refused(impl, values):
    x = torch.full((1, 3, 8, 8), 100.0)
    x[0, 0, 0, 0] = values
    with pytest.raises(ValueError, match=r"values must lie in \[0, 255\]"):
        IMPLEMENTATIONS[impl](**SMALL).predict(x)
    with pytest.raises(ValueError, match=r"values must lie in \[0, 255\]"):
        IMPLEMENTATIONS[impl](**SMALL).train(x, x)


@pytest.mark.parametrize("arch", ["simple", "deep"])
def test_unclipped_noise_is_taken_clipped_and_only_finite_values(arch):
    """The papers' protocol (float noise never clipped): values beyond 0-255 are taken and
    clipped first; NaN and infinities are still refused; the input is left as it was."""
    model = mp2.Model(arch=arch, channels=(4, 8), batch_size=8)
    x = torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(0)) * 200 + 128
    kept = x.clone()
    assert torch.equal(model.predict(x, unclipped=True), model.predict(x.clamp(0, 255)))
    assert torch.equal(x, kept)
    for bad in (float("nan"), float("inf"), -float("inf")):
        x[0, 0, 0, 0] = bad
        with pytest.raises(ValueError, match="values must be finite"):
            model.predict(x, unclipped=True)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_picture_on_the_0_1_scale_gets_a_warning(impl):
    with pytest.warns(UserWarning, match="0-255 scale"):
        IMPLEMENTATIONS[impl](**SMALL).predict(torch.rand(1, 3, 8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        IMPLEMENTATIONS[impl](**SMALL).predict(torch.zeros(1, 3, 8, 8))  # black is fine


@pytest.mark.parametrize("make", [lambda: TransposeConv2d(3, 3, 3), lambda: Conv2d(3, 3, 1),
                                  lambda: NearestUpsampling(scale_factor=2), lambda: Upsampling(3, 3, 1)])
def test_an_input_of_height_0_is_refused(make):
    with pytest.raises(ValueError, match="height and width >= 1"):
        make().forward(torch.rand(1, 3, 0, 4))


# -- unclear errors become one line ------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_training_sizes_must_be_multiples_of_4_and_say_so(impl):
    a, b = pairs(4, size=30)
    with pytest.raises(ValueError, match="multiples of 4"):
        IMPLEMENTATIONS[impl](**SMALL).train(a, b)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_cli_training_on_sizes_not_multiple_of_4_fails_up_front(capsys, tmp_path, impl):
    build = tmp_path / "d"
    data.build(build, n_train=8, n_val=4, size=30)
    out = tmp_path / "r"
    status, _, err = run(capsys, "train", "--impl", impl, "--data", build, "--out", out)
    assert status == cli.EXIT_ERROR and one_line(err) and "multiples of 4" in err
    assert not out.exists()


@pytest.mark.parametrize("command", ["evaluate", "denoise"])
@pytest.mark.parametrize("case", ["channels do not fit the weights", "config not a dict", "NaN weight",
                                  "rng_state garbage", "lr='fast'"])
def test_cli_on_a_crafted_checkpoint_prints_one_line_naming_it(capsys, dataset, tmp_path, command, case):
    path = _crafted("nograd", tmp_path, CRAFTED[case][0])
    picture = tmp_path / "in.png"
    Image.effect_noise((20, 20), 40).convert("RGB").save(picture)
    argv = (["evaluate", "--data", dataset] if command == "evaluate"
            else ["denoise", picture, tmp_path / "out.png"])
    status, _, err = run(capsys, *argv, "--checkpoint", path)
    assert status == cli.EXIT_ERROR and one_line(err) and str(path) in err


def test_a_full_disk_has_its_own_exit_status_and_loses_nothing(capsys, dataset, tmp_path, monkeypatch):
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", dataset, "--subset", 16, "--epochs", 1, "--out", out)[0] == 0
    before = {name: (out / name).read_bytes() for name in ("checkpoint.pkl", "best.pkl", "metrics.jsonl")}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    status, _, err = run(capsys, "train", "--out", out, "--resume", "--epochs", 2)
    assert status == cli.EXIT_IO and one_line(err) and "No space left" in err
    assert {name: (out / name).read_bytes() for name in before} == before
    assert not list(out.glob(".tmp-*"))


@pytest.mark.parametrize("argv, fragment", [
    (["--device", "cpux"], "--device must be cpu, cuda, cuda:N or auto"),
    (["--lr", "1e38"], "lr must be"),
    (["--optimizer", "sgd", "--lr", "1e39"], "lr must be"),
])
def test_bad_training_options_are_one_line_errors(capsys, dataset, tmp_path, argv, fragment):
    status, _, err = run(capsys, "train", "--data", dataset, "--out", tmp_path / "r", *argv)
    assert status == cli.EXIT_ERROR and one_line(err) and fragment in err
    assert not (tmp_path / "r").exists()


def test_an_overflowing_seed_is_refused_by_the_parser(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit:
        cli.main(["train", "--seed", "99999999999999999999999", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "Traceback" not in err and "--seed" in err


def test_a_decompression_bomb_is_a_one_line_error(capsys, tmp_path, monkeypatch):
    picture = tmp_path / "bomb.png"
    Image.new("RGB", (200, 200)).save(picture)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    status, _, err = run(capsys, "denoise", picture, tmp_path / "out.png")
    assert status == cli.EXIT_ERROR and one_line(err) and "bomb.png" in err


@pytest.mark.parametrize("make", [lambda: Conv2d(3, 3, 3), ReLU, Sigmoid, lambda: Upsampling(3, 3, 3, padding=1),
                                  lambda: NearestUpsampling(scale_factor=2), lambda: TransposeConv2d(3, 3, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_a_gradient_of_another_dtype_names_the_module(make, dtype):
    module = make().to(torch.float64)
    y = module.forward(torch.rand(1, 3, 5, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match=f"{type(module).__name__}.*grad_output is {dtype}"):
        module.backward(torch.ones(y.shape, dtype=dtype))


def test_read_only_and_missing_folders_are_one_line_errors(capsys, dataset, tmp_path):
    missing = tmp_path / "missing" / "m.pkl"
    for cls in IMPLEMENTATIONS.values():
        with pytest.raises(FileNotFoundError):
            cls(**SMALL).save_model(missing)
    status, _, err = run(capsys, "evaluate", "--data", tmp_path / "nowhere")
    assert status == cli.EXIT_ERROR and one_line(err)
    # A folder that cannot be created (a file is in the way) fails like a read-only one.
    (tmp_path / "file").write_text("")
    status, _, err = run(capsys, "train", "--data", dataset, "--subset", 16, "--epochs", 1,
                         "--out", tmp_path / "file" / "r")
    assert status == cli.EXIT_IO and one_line(err)
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        status, _, err = run(capsys, "train", "--data", dataset, "--subset", 16, "--epochs", 1,
                             "--out", locked / "r")
        assert status == cli.EXIT_IO and one_line(err)
    finally:
        locked.chmod(0o700)
