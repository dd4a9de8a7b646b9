"""Miniproject_2.model.Model: the grader's entry point, on the autograd-free framework."""
import os
import re

import pytest
import torch

from Miniproject_2 import model as mp2
from Miniproject_2.model import DEFAULT_CONFIG, Model
from n2n_nograd.psnr import psnr

SMALL = {"channels": (4, 8), "batch_size": 8}


def smooth_pairs(n, size=16, seed=0):
    """Noisy pairs of smooth random pictures, and the clean ones: quick to learn."""
    g = torch.Generator().manual_seed(seed)
    clean = torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(size, size),
                                            mode="bilinear", align_corners=False) * 255

    def noisy():
        return (clean + 25 * torch.randn(clean.shape, generator=g)).round().clamp(0, 255).to(torch.uint8)

    return noisy(), noisy(), clean


# -- construction ---------------------------------------------------------------------------

def test_model_takes_no_argument_and_uses_the_default_config():
    model = Model()
    assert model.config == DEFAULT_CONFIG and model.epochs_trained == 0


@pytest.mark.parametrize("config, message", [
    ({"colour": 1}, "unknown configuration keys"),
    ({"optimizer": "rmsprop"}, "optimizer must be"),
    ({"batch_size": 0}, "batch_size must be"),
])
def test_bad_configuration_is_refused(config, message):
    with pytest.raises(ValueError, match=message):
        Model(**config)


# -- predict --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, dtype", [
    ((1, 3, 512, 512), torch.float32), ((100, 3, 32, 32), torch.uint8), ((2, 3, 33, 47), torch.float64),
    ((1, 3, 1, 1), torch.uint8), ((3, 3, 5, 64), torch.float32),
])
def test_predict_returns_floats_in_range_of_the_input_shape(shape, dtype):
    model = Model()
    model.load_pretrained_model()
    x = (torch.rand(shape) * 255).to(dtype)
    before = x.clone()
    y = model.predict(x)
    assert y.shape == x.shape and y.is_floating_point() and y.device == x.device
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 255
    assert torch.equal(x, before), "predict modified its input"


def test_predict_bounds_memory_by_chunking_without_changing_results(monkeypatch):
    model = Model()
    model.load_pretrained_model()
    x = (torch.rand(20, 3, 32, 32) * 255).to(torch.uint8)
    whole = model.predict(x)
    monkeypatch.setattr(mp2, "PREDICT_PIXELS", 3 * 32 * 32)
    assert torch.allclose(model.predict(x), whole, atol=1e-4)


def test_the_committed_model_denoises_a_photo_it_never_saw():
    from skimage.data import chelsea  # a validation-side photo of the default data set

    photo = torch.from_numpy(chelsea()).permute(2, 0, 1).float()
    crops = torch.stack([photo[:, i:i + 64, j:j + 64] for i in (0, 100, 200) for j in (0, 150, 300)])
    clean = torch.nn.functional.avg_pool2d(crops, 2)
    g = torch.Generator().manual_seed(0)
    noisy = (clean + 24.5 * torch.randn(clean.shape, generator=g)).round().clamp(0, 255).to(torch.uint8)
    model = Model()
    model.load_pretrained_model()
    assert model.epochs_trained > 0
    assert psnr(model.predict(noisy) / 255, clean / 255) > psnr(noisy / 255, clean / 255) + 3


@pytest.mark.parametrize("x, error, message", [
    (torch.rand(3, 32, 32), ValueError, r"shape \(N, 3, H, W\)"),
    (torch.rand(1, 4, 8, 8), ValueError, r"shape \(N, 3, H, W\)"),
    (torch.zeros(1, 3, 8, 8, dtype=torch.int32), TypeError, "uint8 or floating"),
    (torch.rand(0, 3, 8, 8), ValueError, "empty"),
    ([[1, 2]], TypeError, "torch.Tensor"),
])
def test_predict_refuses_bad_input(x, error, message):
    with pytest.raises(error, match=message):
        Model().predict(x)


# -- train ----------------------------------------------------------------------------------

def test_zero_epochs_return_at_once_and_change_nothing():
    a, b, _ = smooth_pairs(8)
    model = Model(**SMALL)
    weights = [t.clone() for t, _ in model.net.param()]
    assert model.train(a, b, num_epochs=0) == []
    assert all(torch.equal(w, t) for w, (t, _) in zip(weights, model.net.param()))


def test_training_lowers_the_loss_and_moves_the_live_weights():
    a, b, _ = smooth_pairs(64)
    torch.manual_seed(0)
    model = Model(**SMALL, lr=3e-3)
    weight = model.net[0].weight  # a reference held from before training
    before = weight.clone()
    losses = model.train(a, b, num_epochs=4)
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert not torch.equal(weight, before) and model.epochs_trained == 4


def test_float_and_uint8_inputs_train_alike():
    a, b, _ = smooth_pairs(16)
    runs = []
    for cast in (lambda t: t, lambda t: t.float()):
        torch.manual_seed(0)
        model = Model(**SMALL)
        runs.append(model.train(cast(a), cast(b)))
    assert runs[0] == pytest.approx(runs[1])


def test_divergence_stops_with_a_clear_error_before_the_bad_step():
    a, b, _ = smooth_pairs(32)
    model = Model(**SMALL, optimizer="sgd", lr=1e30, momentum=0.0)
    with pytest.raises(FloatingPointError, match="diverged"):
        model.train(a, b, num_epochs=3)


@pytest.mark.parametrize("args, error, message", [
    ((torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(3, 3, 8, 8, dtype=torch.uint8), 1),
     ValueError, "differ in shape"),
    ((torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8), -1),
     ValueError, "num_epochs"),
    ((torch.zeros(2, 1, 8, 8, dtype=torch.uint8), torch.zeros(2, 1, 8, 8, dtype=torch.uint8), 1),
     ValueError, "train_input"),
])
def test_train_refuses_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        Model(**SMALL).train(*args)


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys):
    a, b, _ = smooth_pairs(16)
    model = Model(**SMALL)
    model.train(a, b, progress=False)
    assert capsys.readouterr().err == ""
    model.train(a, b, progress=True)
    err = capsys.readouterr().err
    assert "epoch 2" in err and "16/16" in err


def test_training_leaves_global_torch_state_alone():
    a, b, _ = smooth_pairs(8)
    grad_mode, dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    Model(**SMALL).train(a, b)
    assert torch.is_grad_enabled() == grad_mode and torch.get_default_dtype() == dtype


def test_training_works_with_autograd_switched_off():
    a, b, _ = smooth_pairs(8)
    with torch.no_grad():
        assert len(Model(**SMALL).train(a, b)) == 1


# -- checkpoints ----------------------------------------------------------------------------

def test_save_load_round_trip_resumes_training_exactly(tmp_path):
    a, b, _ = smooth_pairs(24)
    model = Model(**SMALL, seed=5)
    model.train(a, b)
    model.save_model(tmp_path / "m.pkl")
    assert os.listdir(tmp_path) == ["m.pkl"], "a temporary file was left behind"
    assert (tmp_path / "m.pkl").stat().st_mode & 0o644 == 0o644
    payload = torch.load(tmp_path / "m.pkl", weights_only=True)
    assert set(payload) >= {"config", "state_dict", "optimizer", "epochs_trained", "rng_state"}

    loaded = Model()
    loaded.load_model(tmp_path / "m.pkl")
    assert loaded.config == model.config and loaded.epochs_trained == 1
    x = (torch.rand(2, 3, 16, 16) * 255).to(torch.uint8)
    assert torch.equal(loaded.predict(x), model.predict(x))
    # Optimizer moments and batch order come back too: both continue identically.
    assert loaded.train(a, b) == model.train(a, b)
    for (p, _), (q, _) in zip(loaded.net.param(), model.net.param()):
        assert torch.equal(p, q)


def test_loading_keeps_the_live_tensors_when_the_architecture_matches(tmp_path):
    Model().save_model(tmp_path / "m.pkl")
    model = Model()
    weight = model.net[0].weight
    optimizer_params = model.optimizer.params
    model.load_model(tmp_path / "m.pkl")
    assert model.net[0].weight is weight and model.optimizer.params is optimizer_params


def test_training_after_loading_the_pretrained_model_moves_its_weights():
    a, b, _ = smooth_pairs(32, size=32)
    model = Model()
    model.load_pretrained_model()
    weight = model.net[0].weight
    before = weight.clone()
    model.train(a, b)
    assert not torch.equal(weight, before)


def test_bad_checkpoints_give_clear_errors(tmp_path):
    model = Model()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.load_model(tmp_path / "missing.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        model.load_model(tmp_path / "junk.pkl")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pkl")
    with pytest.raises(ValueError, match="not written by this model"):
        model.load_model(tmp_path / "other.pkl")


def test_checkpoints_never_run_code(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    torch.save({"format": "n2n-nograd-checkpoint", "config": Payload()}, tmp_path / "evil.pkl")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        Model().load_model(tmp_path / "evil.pkl")


def test_train_targets_may_be_unclipped_but_inputs_may_not():
    torch.manual_seed(0)
    model = Model(channels=(4, 8), kernel_up=3, padding_up=1)
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    unclipped = x.float() + torch.randn(x.shape) * 60
    assert unclipped.min() < 0 and unclipped.max() > 255
    model.train(x, unclipped, 1)
    with pytest.raises(ValueError, match="train_input: values must lie in \\[0, 255\\]"):
        model.train(unclipped, x, 1)
    with pytest.raises(ValueError, match="train_target: values must lie in \\[-255, 510\\]"):
        model.train(x, unclipped * 10, 1)


@pytest.mark.parametrize("config, named", [
    ({"arch": "unet"}, "arch"), ({"arch": ["deep"]}, "arch"),
    ({"arch": "deep", "channels": (4,) * 6}, "channels"), ({"arch": "deep", "channels": (4, 0)}, "channels"),
    ({"channels": (4, 8, 8)}, "channels"), ({"arch": "deep", "skip": "sum"}, "skip"),
    ({"arch": "deep", "channels": (4, 5), "skip": "add"}, "skip='add'"),
])
def test_bad_architectures_are_refused_by_name(config, named):
    with pytest.raises(ValueError, match=re.escape(named)):
        Model(**config)


def test_the_deep_model_has_its_own_defaults_and_checkpoint():
    model = Model(arch="deep")
    assert model.config["channels"] == (48, 48, 48) and model.config["lr"] == 1e-3 and model.stride == 4
    assert Model(arch="deep", channels=(4, 4, 4, 4)).stride == 8
    model.load_pretrained_model()
    assert model.epochs_trained > 0 and model.config["arch"] == "deep"
    clean = torch.full((1, 3, 24, 20), 120.0)
    # A flat clean picture comes back nearly unchanged: a quarter of a level off on
    # average (a few levels at most, near the borders).
    assert (model.predict(clean) - clean).abs().mean() < 1
