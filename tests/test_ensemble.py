"""Self-ensemble: the mean of a denoiser over the flips and rotations of its input."""
import pytest
import torch

from Miniproject_1 import model as mp1
from Miniproject_2 import model as mp2
from Miniproject_2.others.denoisers.ensemble import ENSEMBLES, check_ensemble, dihedral_mean
from Miniproject_2.others.plumbing.images import dihedral, undo_dihedral

IMPLEMENTATIONS = {"nograd": mp2.Model, "torch": mp1.Model}
SMALL = {"channels": (4, 8)}


def lopsided(images, into):
    """A denoiser that no flip or rotation leaves unchanged: a running sum along the width,
    weighted by the row."""
    rows = torch.arange(1, images.shape[2] + 1, dtype=into.dtype).view(1, 1, -1, 1)
    return into.copy_(images.to(into.dtype).cumsum(3) * rows)


def reference_mean(denoise, images, ensemble):
    """The mean written with torch's own flips and rotations: the identity, then a flip of
    the rows, of the columns, of both (a half turn), then the same four after a transposition."""
    def run(x):
        return denoise(x.contiguous(), torch.empty(x.shape, dtype=torch.float64))

    turns = [(lambda x: x, lambda y: y),
             (lambda x: x.flip(2), lambda y: y.flip(2)),
             (lambda x: x.flip(3), lambda y: y.flip(3)),
             (lambda x: torch.rot90(x, 2, (2, 3)), lambda y: torch.rot90(y, -2, (2, 3)))]
    turns += [(lambda x, f=f: f(x.transpose(2, 3)), lambda y, g=g: g(y).transpose(2, 3)) for f, g in turns]
    return sum(undo(run(do(images))) for do, undo in turns[:ensemble]) / ensemble


@pytest.mark.parametrize("k", range(8))
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 3, 1, 4), (1, 3, 6, 6)])
def test_undo_dihedral_inverts_dihedral_on_any_size(k, shape):
    x = torch.arange(torch.Size(shape).numel()).view(shape)
    assert torch.equal(undo_dihedral(dihedral(x, k), k), x)
    assert torch.equal(dihedral(undo_dihedral(x, k), k), x)


@pytest.mark.parametrize("ensemble", ENSEMBLES)
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 3, 1, 6), (3, 3, 4, 4)])
def test_dihedral_mean_is_the_mean_over_the_first_symmetries(ensemble, shape):
    images = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    out = torch.full(shape, float("nan"), dtype=torch.float64)
    assert dihedral_mean(lopsided, images, out, ensemble, torch.float64) is out
    assert torch.allclose(out, reference_mean(lopsided, images, ensemble), rtol=1e-12)


def test_one_orientation_is_the_denoiser_itself_and_an_integer_out_gets_rounded():
    images = torch.randint(0, 256, (2, 3, 4, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    alone = lopsided(images, torch.empty(images.shape, dtype=torch.float64))
    out = torch.empty(images.shape, dtype=torch.float64)
    assert torch.equal(dihedral_mean(lopsided, images, out, 1, torch.float64), alone)

    def halves(x, into):
        return into.copy_(x.to(into.dtype) * 0.5 + 0.25)

    rounded = dihedral_mean(halves, images, torch.empty_like(images, dtype=torch.int64), 2, torch.float64)
    assert torch.equal(rounded, (images.double() * 0.5 + 0.25).round().long())


@pytest.mark.parametrize("bad", [0, 3, 16, -8, 2.0, True, "8", None])
def test_check_ensemble_refuses_anything_but_1_2_4_8(bad):
    with pytest.raises(ValueError, match=f"ensemble must be one of .*got {bad!r}"):
        check_ensemble(bad, "here")
    assert [check_ensemble(e, "here") for e in ENSEMBLES] == list(ENSEMBLES)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("ensemble", [2, 8])
def test_model_predict_averages_its_own_predictions_of_the_turned_pictures(impl, ensemble):
    torch.manual_seed(0)
    model = IMPLEMENTATIONS[impl](**SMALL)
    images = torch.randint(0, 256, (2, 3, 13, 22), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    expected = sum(undo_dihedral(model.predict(dihedral(images, k).contiguous()), k)
                   for k in range(ensemble)) / ensemble
    got = model.predict(images, ensemble=ensemble)
    assert got.shape == images.shape and got.dtype == torch.float32
    assert torch.allclose(got, expected, atol=1e-4)
    uint8 = model.predict(images, out=torch.empty_like(images), ensemble=ensemble)
    assert (uint8.float() - got).abs().max() <= 0.5 + 1e-3


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_each_orientation_is_tiled_like_a_single_pass(monkeypatch, impl):
    torch.manual_seed(0)
    model = IMPLEMENTATIONS[impl](**SMALL)
    picture = torch.randint(0, 256, (1, 3, 150, 203), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    whole = model.predict(picture, ensemble=8)
    budget = {"nograd": "PREDICT_PIXELS", "torch": "PREDICT_PIXEL_BUDGET"}[impl]
    monkeypatch.setattr({"nograd": mp2, "torch": mp1}[impl], budget, 128 * 128)
    assert torch.allclose(model.predict(picture, ensemble=8), whole, atol=1e-3)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_the_deep_model_takes_an_ensemble_through_its_blend_and_colour_check(impl):
    torch.manual_seed(0)
    model = IMPLEMENTATIONS[impl](arch="deep", channels=(4, 4))
    clean = torch.linspace(0, 255, 24).view(1, 1, 1, 24).expand(2, 3, 24, 24)
    noisy = (clean + 5 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(4))).clamp(0, 255).round()
    out = model.predict(noisy, ensemble=4)
    assert out.shape == noisy.shape and torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 255


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("bad", [3, 0, 2.5])
def test_model_predict_refuses_a_bad_ensemble_before_running(impl, bad):
    model = IMPLEMENTATIONS[impl](**SMALL)
    with pytest.raises(ValueError, match=f"Model.predict: ensemble must be one of .*got {bad!r}"):
        model.predict(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), ensemble=bad)
