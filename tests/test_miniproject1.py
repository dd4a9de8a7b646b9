"""Miniproject_1, the torch.nn twin: the Model API contract and its training."""

import math
import os

import random

import pytest
import torch

from Miniproject_1 import model as mp1
from Miniproject_1.model import DEFAULT_CONFIG, Model
from Miniproject_2.model import Model as Miniproject2Model
from Miniproject_2.others.plumbing.images import dihedral, epoch_batches

SMALL = {"channels": (4, 8), "batch_size": 8}


def smooth_pairs(n, size=16, seed=0):
    """Noisy pairs of smooth random pictures: something a denoiser can learn fast."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    clean = torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)

    def noisy():
        return (clean * 255 + 25 * torch.randn(clean.shape, generator=g)).round().clamp(0, 255).to(torch.uint8)

    return noisy(), noisy()


# -- construction ---------------------------------------------------------------------------

def test_default_model_uses_default_config():
    model = Model()
    assert model.config == DEFAULT_CONFIG
    assert model.epochs_trained == 0


def test_unknown_config_key_is_rejected():
    with pytest.raises(ValueError, match="unknown configuration keys"):
        Model(chanels=(8, 16))


@pytest.mark.parametrize("config", [
    {"channels": (8,)}, {"channels": (0, 8)}, {"channels": "wide"},
    {"kernel_down": 3},  # a stride-2 conv with k=3, p=0 does not halve 32 exactly
    {"kernel_up": 3, "padding_up": 0}, {"padding_down": -1},
    {"optimizer": "rmsprop"}, {"lr": 0}, {"lr": float("nan")}, {"momentum": 1.0},
    {"batch_size": 0}, {"batch_size": 2.5}, {"seed": "zero"}, {"arch": "resnet"},
    {"device": "no-such-device"},
])
def test_bad_config_values_are_rejected(config):
    with pytest.raises(ValueError):
        Model(**config)


@pytest.mark.parametrize("kernel_down, padding_down, kernel_up, padding_up", [
    (2, 0, 3, 1), (3, 1, 5, 2), (4, 1, 1, 0), (6, 2, 7, 3),
])
def test_valid_kernel_choices_keep_the_image_size(kernel_down, padding_down, kernel_up, padding_up):
    model = Model(channels=(4, 8), kernel_down=kernel_down, padding_down=padding_down,
                  kernel_up=kernel_up, padding_up=padding_up)
    assert model.predict(torch.rand(2, 3, 32, 20) * 255).shape == (2, 3, 32, 20)


def test_weights_depend_on_the_seed_only_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    first, second, other = Model(seed=3), Model(seed=3), Model(seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    for a, b in zip(first.net.parameters(), second.net.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(next(first.net.parameters()), next(other.net.parameters()))


# -- predict --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (5, 3, 33, 47), (2, 3, 1, 1), (3, 3, 2, 7), (1, 3, 512, 512)])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_predict_keeps_shape_and_device_and_returns_0_255_floats(shape, dtype):
    x = (torch.rand(shape) * 255).to(dtype)
    out = Model(**SMALL).predict(x)
    assert out.shape == shape
    assert out.dtype == torch.float32
    assert out.device == x.device
    assert out.min() >= 0 and out.max() <= 255


def test_predict_of_an_empty_batch_is_refused_like_miniproject_2():
    with pytest.raises(ValueError, match="empty"):
        Model(**SMALL).predict(torch.zeros(0, 3, 32, 32))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_predict_never_modifies_its_input(dtype):
    x = (torch.rand(4, 3, 33, 47) * 255).to(dtype)
    original = x.clone()
    Model(**SMALL).predict(x)
    assert torch.equal(x, original)


def test_uint8_and_float_inputs_give_the_same_prediction():
    x = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    model = Model(**SMALL)
    assert torch.equal(model.predict(x), model.predict(x.float()))


def test_predict_results_do_not_depend_on_the_chunk_size(monkeypatch):
    model = Model(**SMALL)
    x = torch.rand(7, 3, 12, 12) * 255
    whole = model.predict(x)
    monkeypatch.setattr(mp1, "PREDICT_PIXEL_BUDGET", 2 * 12 * 12)
    assert torch.allclose(model.predict(x), whole, atol=1e-4)


def test_predict_on_an_odd_size_denoises_the_image_not_the_padding():
    # Each output pixel of a crop must match the same pixel of the full picture
    # up to the network's receptive field near the padded edges.
    model = Model(**SMALL)
    x = torch.rand(1, 3, 32, 32) * 255
    crop = model.predict(x[:, :, :29, :30])
    full = model.predict(x)
    assert torch.allclose(crop[:, :, :20, :20], full[:, :, :20, :20], atol=1e-4)


@pytest.mark.parametrize("bad, error", [
    ([[1.0]], TypeError),
    (torch.rand(3, 32, 32), ValueError),
    (torch.rand(1, 1, 32, 32), ValueError),
    (torch.zeros(1, 3, 8, 8, dtype=torch.bool), TypeError),
])
def test_predict_rejects_bad_inputs(bad, error):
    with pytest.raises(error):
        Model(**SMALL).predict(bad)


def test_predict_works_with_autograd_switched_off():
    with torch.no_grad():
        assert Model(**SMALL).predict(torch.rand(1, 3, 8, 8) * 255).shape == (1, 3, 8, 8)


# -- train ----------------------------------------------------------------------------------

def test_training_lowers_the_loss_on_a_tiny_set():
    noisy_a, noisy_b = smooth_pairs(64)
    model = Model(**SMALL, lr=3e-3)
    losses = model.train(noisy_a, noisy_b, num_epochs=8)
    assert len(losses) == 8 and all(isinstance(loss, float) for loss in losses)
    assert losses[-1] < 0.85 * losses[0]
    assert model.epochs_trained == 8


def test_training_is_reproducible_and_leaves_inputs_and_global_rng_alone():
    noisy_a, noisy_b = smooth_pairs(20)
    copies = noisy_a.clone(), noisy_b.clone()
    state = torch.random.get_rng_state()
    first, second = Model(**SMALL), Model(**SMALL)
    assert first.train(noisy_a, noisy_b, num_epochs=2) == second.train(noisy_a, noisy_b, num_epochs=2)
    for a, b in zip(first.net.parameters(), second.net.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(noisy_a, copies[0]) and torch.equal(noisy_b, copies[1])
    assert torch.equal(torch.random.get_rng_state(), state)


def test_training_works_with_autograd_switched_off_globally():
    # The course's grader switches autograd off for Miniproject_2's checks.
    noisy_a, noisy_b = smooth_pairs(16)
    model = Model(**SMALL)
    before = [p.clone() for p in model.net.parameters()]
    with torch.no_grad():
        model.train(noisy_a, noisy_b)
        assert not torch.is_grad_enabled()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.net.parameters()))


def test_zero_epochs_train_nothing():
    noisy_a, noisy_b = smooth_pairs(8)
    model = Model(**SMALL)
    assert model.train(noisy_a, noisy_b, num_epochs=0) == []
    assert model.epochs_trained == 0


def test_sgd_and_float_inputs_and_non_square_images_train():
    noisy_a, noisy_b = smooth_pairs(16)
    model = Model(**SMALL, optimizer="sgd", lr=0.05)
    losses = model.train(noisy_a[..., :12].float(), noisy_b[..., :12].float(), num_epochs=2)
    assert all(math.isfinite(loss) for loss in losses)


def test_a_diverging_epoch_raises_and_is_undone():
    noisy_a, noisy_b = smooth_pairs(16)
    model = Model(**{**SMALL, "optimizer": "sgd", "lr": 1e30, "momentum": 0.0})
    before = {key: value.clone() for key, value in model.net.state_dict().items()}
    with pytest.raises(FloatingPointError):
        model.train(noisy_a, noisy_b, num_epochs=3)
    assert model.epochs_trained == 0
    assert all(torch.equal(before[key], value) for key, value in model.net.state_dict().items())


@pytest.mark.parametrize("args, error", [
    ((torch.zeros(4, 3, 8, 8), torch.zeros(4, 3, 8, 4)), ValueError),
    ((torch.zeros(0, 3, 8, 8), torch.zeros(0, 3, 8, 8)), ValueError),
    ((torch.zeros(4, 3, 8, 8), "target"), TypeError),
])
def test_train_rejects_bad_inputs(args, error):
    with pytest.raises(error):
        Model(**SMALL).train(*args)


@pytest.mark.parametrize("num_epochs", [-1, 1.5, True])
def test_train_rejects_bad_epoch_counts(num_epochs):
    noisy_a, noisy_b = smooth_pairs(4)
    with pytest.raises(ValueError):
        Model(**SMALL).train(noisy_a, noisy_b, num_epochs=num_epochs)


def test_progress_goes_to_stderr_only_when_asked_or_on_a_terminal(capsys):
    noisy_a, noisy_b = smooth_pairs(16)
    model = Model(**SMALL)
    model.train(noisy_a, noisy_b)  # pytest's stderr is not a terminal
    assert capsys.readouterr() == ("", "")
    model.train(noisy_a, noisy_b, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "epoch 2/2" in captured.err and "16/16" in captured.err


# -- augmentation ---------------------------------------------------------------------------

def test_the_eight_dihedral_transforms_are_distinct():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    seen = {tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}
    assert len(seen) == 8


def test_an_epoch_visits_every_pair_once_in_seeded_batches():
    batches = list(epoch_batches(70, 32, random.Random(3)))
    assert [len(indices) for indices, _ in batches] == [32, 32, 6]
    assert sorted(i for indices, _ in batches for i in indices) == list(range(70))
    assert all(0 <= k < 8 for _, k in batches)
    assert batches == list(epoch_batches(70, 32, random.Random(3)))


def test_both_miniprojects_draw_the_same_batches_from_the_same_seed():
    """The twins share the data pipeline, so a comparison isolates the network's arithmetic."""
    twin, ours = Model(seed=7), Miniproject2Model(seed=7)
    assert list(epoch_batches(50, 8, twin._random)) == list(epoch_batches(50, 8, ours._random))


# -- checkpoints ----------------------------------------------------------------------------

def test_save_and_load_round_trip_resumes_training_exactly(tmp_path):
    noisy_a, noisy_b = smooth_pairs(24)
    model = Model(**SMALL, seed=5)
    model.train(noisy_a, noisy_b)
    model.save_model(tmp_path / "m.pth")
    assert os.listdir(tmp_path) == ["m.pth"]
    assert (tmp_path / "m.pth").stat().st_mode & 0o644 == 0o644

    loaded = Model()
    loaded.load_model(tmp_path / "m.pth")
    assert loaded.config == model.config and loaded.epochs_trained == 1
    x = torch.rand(2, 3, 16, 16) * 255
    assert torch.equal(loaded.predict(x), model.predict(x))
    # The optimizer's moments and the epoch count come back too, so both continue alike.
    assert loaded.train(noisy_a, noisy_b) == model.train(noisy_a, noisy_b)
    for a, b in zip(loaded.net.parameters(), model.net.parameters()):
        assert torch.equal(a, b)


def test_checkpoints_are_plain_data_loadable_with_weights_only(tmp_path):
    Model(**SMALL).save_model(tmp_path / "m.pth")
    checkpoint = torch.load(tmp_path / "m.pth", weights_only=True)
    assert set(checkpoint) >= {"config", "state_dict", "optimizer", "epochs_trained"}


def test_loading_keeps_this_machine_s_device_setting(tmp_path):
    Model(**SMALL).save_model(tmp_path / "m.pth")
    model = Model(device="cpu")
    model.load_model(tmp_path / "m.pth")
    assert model.config["device"] == "cpu" and model.config["channels"] == (4, 8)


def test_a_failed_save_leaves_no_file_behind(tmp_path):
    with pytest.raises(OSError):
        Model(**SMALL).save_model(tmp_path / "missing-dir" / "m.pth")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_loading_a_corrupt_or_foreign_file_raises_value_error_and_changes_nothing(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content is None:
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    model = Model(**SMALL)
    before = [p.clone() for p in model.net.parameters()]
    with pytest.raises(ValueError):
        model.load_model(path)
    assert model.config["channels"] == (4, 8)
    assert all(torch.equal(a, b) for a, b in zip(before, model.net.parameters()))


def test_loading_a_checkpoint_whose_weights_do_not_fit_raises_value_error(tmp_path):
    Model(**SMALL).save_model(tmp_path / "m.pth")
    checkpoint = torch.load(tmp_path / "m.pth", weights_only=True)
    checkpoint["config"]["channels"] = (5, 8)
    torch.save(checkpoint, tmp_path / "m.pth")
    with pytest.raises(ValueError, match="does not match"):
        Model().load_model(tmp_path / "m.pth")


def test_loading_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Model().load_model(tmp_path / "nothing.pth")


def test_the_pretrained_model_loads_and_denoises():
    model = Model()
    model.load_pretrained_model()
    assert model.epochs_trained > 0
    out = model.predict(torch.rand(1, 3, 512, 512) * 255)
    assert out.shape == (1, 3, 512, 512) and 1 < out.max() <= 255


# -- the deep network ------------------------------------------------------------------------

def test_deep_predicts_any_size_and_learns():
    noisy_a, noisy_b = smooth_pairs(16, size=8)
    model = Model(arch="deep", channels=(4, 8, 8), batch_size=4, lr=3e-3)
    assert model.predict(torch.rand(2, 3, 13, 18) * 255).shape == (2, 3, 13, 18)
    losses = model.train(noisy_a, noisy_b, num_epochs=4)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("channels, skip", [((6, 8, 5), "concat"), ((6, 6), "add"), ((6,), "concat")])
def test_miniproject_2_deep_network_computes_the_same_function(channels, skip):
    """The twin's U-Net has Miniproject_2's state_dict keys; with its weights, Miniproject_2
    predicts the same images, tiles included."""
    twin = Model(arch="deep", channels=channels, skip=skip)
    ours = Miniproject2Model(arch="deep", channels=channels, skip=skip)
    ours.net.load_state_dict({key: value.detach() for key, value in twin.net.state_dict().items()})
    x = torch.rand(3, 3, 21, 30) * 255
    assert torch.allclose(ours.predict(x), twin.predict(x), atol=1e-3)


# -- the twin -------------------------------------------------------------------------------

def test_miniproject_2_default_network_computes_the_same_function():
    """With Miniproject_1's weights, Miniproject_2's default network predicts the same images.

    This is what makes Miniproject_1 a fair reference in speed and quality comparisons.
    """
    mp2 = pytest.importorskip("Miniproject_2.model")
    twin, reference = mp2.Model(), Model()
    reference_weights = list(reference.net.state_dict().values())
    twin_params = [tensor for tensor, _ in twin.net.param()]
    assert [tuple(t.shape) for t in twin_params] == [tuple(t.shape) for t in reference_weights]
    for tensor, weight in zip(twin_params, reference_weights):
        tensor.copy_(weight)
    for shape in [(4, 3, 32, 32), (2, 3, 33, 47), (1, 3, 2, 3)]:
        x = torch.randint(0, 256, shape, dtype=torch.uint8)
        assert torch.allclose(twin.predict(x), reference.predict(x), atol=1e-3)


@pytest.mark.parametrize("config", [SMALL, {"arch": "deep", "channels": (6, 8, 5), "batch_size": 8}],
                         ids=["default", "deep"])
def test_both_miniprojects_train_alike_from_the_same_start(config):
    """Same weights, same batches: the losses of the first steps agree to float32 rounding,
    and so do the weights after them.

    The weights are the sharper witness: a gap in the optimizer as small as Adam's eps at
    1.1e-8 instead of 1e-8 parts them by 3e-4 to 1e-3 (relative) within these epochs, while
    rounding alone parts them by 5e-8 to 3e-7. For the deep network this is what the twin
    comparison stands on.
    """
    noisy_a, noisy_b = smooth_pairs(64)
    reference, ours = Model(**config, seed=3), Miniproject2Model(**config, seed=3)
    ours_weights = [tensor for tensor, _ in ours.net.param()]
    for tensor, weight in zip(ours_weights, reference.net.state_dict().values()):
        tensor.copy_(weight)
    for _ in range(3):
        assert ours.train(noisy_a, noisy_b) == pytest.approx(reference.train(noisy_a, noisy_b), rel=1e-4)
    theirs = torch.cat([weight.flatten() for weight in reference.net.state_dict().values()])
    mine = torch.cat([tensor.flatten() for tensor in ours_weights])
    assert (mine - theirs).norm() <= 2e-6 * theirs.norm()
