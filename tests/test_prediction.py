"""Model.predict's passes (others/denoisers/prediction.py): a progress bar per pass, only when asked."""
import io

import pytest
import torch

from Miniproject_1 import model as mp1
from Miniproject_2 import model as mp2
from Miniproject_2.others.denoisers.prediction import LABELS
from Miniproject_2.others.denoisers.strength import smooth_more
from Miniproject_2.others.plumbing import progress
from Miniproject_2.others.plumbing.progress import Progress

IMPLEMENTATIONS = {"nograd": mp2.Model, "torch": mp1.Model}


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_predict_shows_progress_in_megapixels_only_when_asked(capsys, impl):
    model = IMPLEMENTATIONS[impl](channels=(4, 8))
    pictures = torch.randint(0, 256, (4, 3, 500, 500), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    quiet = model.predict(pictures)
    assert capsys.readouterr().err == ""
    shown = model.predict(pictures, ensemble=2, progress=True)
    err = capsys.readouterr().err
    # 4 pictures of 0.25 MP, twice: the bar ends at 2.0 of 2.0 megapixels, on its own line.
    assert err.startswith(f"\r{LABELS[0]} [") and "2.0/2.0 MP" in err and err.endswith("\n")
    assert err.count("\n") == 1
    assert torch.allclose(model.predict(pictures, ensemble=2), shown)
    assert quiet.shape == shown.shape


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_the_deep_models_second_pass_has_its_own_bar(capsys, impl):
    torch.manual_seed(0)
    model = IMPLEMENTATIONS[impl](arch="deep", channels=(4, 4))
    # With its last convolution zeroed the residual network keeps its input: the picture
    # reads as noiseless, so the blend's second pass runs.
    weights = model.net.state_dict()
    last = max(int(key.split(".")[1]) for key in weights if key.count(".") == 2)
    for name in ("weight", "bias"):
        weights[f"inner.{last}.{name}"].zero_()
    flat = torch.full((1, 3, 40, 40), 128.0)
    noisy = (flat + 3 * torch.randn(flat.shape, generator=torch.Generator().manual_seed(1))).round()
    model.predict(noisy, progress=True)
    lines = capsys.readouterr().err.split("\n")
    assert [line.split(" [")[0].lstrip("\r") for line in lines if line] == list(LABELS)


def test_progress_counts_items_or_units_and_shows_a_loss_only_if_given():
    stream = io.StringIO()
    bar = Progress(3_000_000, "work", enabled=True, stream=stream, unit="MP", per=10 ** 6)
    bar.update(3_000_000)
    assert "] 3.0/3.0 MP " in stream.getvalue() and "loss" not in stream.getvalue()
    stream = io.StringIO()
    bar = Progress(2_000, "epoch 1", enabled=True, stream=stream)
    bar.update(2_000, 0.25)
    assert "] 2,000/2,000 loss 0.25000 " in stream.getvalue() and stream.getvalue().endswith(" img/s")
    quiet = io.StringIO()
    Progress(1, "off", enabled=False, stream=quiet).update(1)
    assert quiet.getvalue() == ""


def test_progress_for_a_log_is_a_line_every_few_seconds(monkeypatch):
    """Off a terminal (a log file, a pipe) the bar would be one endless line of redraws:
    ``"lines"`` writes whole lines, at most one per LINE_SECONDS, and the last one."""
    clock = iter([0.0, 1.0, 6.0, 7.0, 8.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    bar = Progress(4, "denoising", enabled="lines", stream=stream)
    for _ in range(4):
        bar.update(1)
    bar.close()
    assert stream.getvalue().splitlines() == ["denoising: 2/4 0 img/s", "denoising: 4/4 0 img/s"]
    assert "\r" not in stream.getvalue()


@pytest.mark.parametrize("impl", ["nograd", "torch"])
def test_strength_blends_toward_the_input_or_smooths_the_blind_result(impl):
    model = IMPLEMENTATIONS[impl](arch="deep", channels=(4, 4))
    noisy = torch.rand(2, 3, 16, 20, generator=torch.Generator().manual_seed(0)).mul(255).round().to(torch.uint8)
    blind = model.predict(noisy)
    assert torch.equal(model.predict(noisy, strength=0), noisy.float()), "strength 0 is the input"
    half = model.predict(noisy, strength=0.5)
    assert torch.allclose(half, (noisy.float() + blind) / 2, atol=1e-4)
    rounded = model.predict(noisy, out=torch.empty_like(noisy), strength=0.5)
    assert rounded.dtype == torch.uint8 and (rounded.float() - half).abs().max() <= 0.5
    assert torch.allclose(model.predict(noisy, strength=2), smooth_more(noisy.float(), blind, 2), atol=1e-4)


@pytest.mark.parametrize("strength", [-0.1, 4.5, "1", True, float("nan")])
def test_strength_is_checked(strength):
    with pytest.raises(ValueError, match="strength"):
        mp2.Model(arch="deep", channels=(4, 4)).predict(torch.zeros(1, 3, 8, 8), strength=strength)
