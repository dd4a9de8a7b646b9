"""n2n average: the weighted mean of checkpoints of one network (n2n_nograd/average.py)."""
import pytest
import torch

from Miniproject_1.model import Model as TwinModel
from Miniproject_2.model import Model
from n2n_nograd import cli
from n2n_nograd.average import average_checkpoints, check_weights


def saved(tmp_path, name, seed, model_class=Model, epochs=0, **config):
    torch.manual_seed(seed)
    model = model_class(arch="deep", channels=(8, 8), **config)
    model.epochs_trained = epochs
    model.save_model(tmp_path / name)
    return model


def test_the_average_is_the_weighted_mean_with_the_last_checkpoints_settings(tmp_path):
    first, second = saved(tmp_path, "a.pkl", 0), saved(tmp_path, "b.pkl", 1, epochs=3, lr=1e-4)
    mean = average_checkpoints(Model, [tmp_path / "a.pkl", tmp_path / "b.pkl"], [0.25, 0.75])
    for key, tensor in mean.net.state_dict().items():
        expected = 0.25 * first.net.state_dict()[key] + 0.75 * second.net.state_dict()[key]
        torch.testing.assert_close(tensor, expected)
    assert mean.config["lr"] == 1e-4 and mean.epochs_trained == 3
    equal = average_checkpoints(Model, [tmp_path / "a.pkl", tmp_path / "b.pkl"])
    torch.testing.assert_close(equal.net.state_dict()["inner.0.weight"],
                               (first.net.state_dict()["inner.0.weight"] + second.net.state_dict()["inner.0.weight"]) / 2)


def test_the_twins_checkpoints_average_too(tmp_path):
    first = saved(tmp_path, "a.pth", 0, TwinModel)
    second = saved(tmp_path, "b.pth", 1, TwinModel)
    mean = average_checkpoints(TwinModel, [tmp_path / "a.pth", tmp_path / "b.pth"])
    key = next(iter(first.net.state_dict()))
    torch.testing.assert_close(mean.net.state_dict()[key], (first.net.state_dict()[key] + second.net.state_dict()[key]) / 2)


@pytest.mark.parametrize("weights, count, message", [
    ([0.5, 0.5, 0.0], 2, "2 checkpoints need 2 weights"),
    ([0.7, 0.7], 2, "sum to 1"),
    ([1.5, -0.5], 2, "at least 0"),
    ([float("nan"), 1.0], 2, "at least 0"),
])
def test_bad_weights_are_refused(weights, count, message):
    with pytest.raises(ValueError, match=message):
        check_weights(weights, count)


def test_checkpoints_of_different_networks_are_refused(tmp_path):
    saved(tmp_path, "a.pkl", 0)
    torch.manual_seed(0)
    Model(arch="deep", channels=(8, 16)).save_model(tmp_path / "wide.pkl")
    with pytest.raises(ValueError, match="differ in channels"):
        average_checkpoints(Model, [tmp_path / "wide.pkl", tmp_path / "a.pkl"])
    with pytest.raises(ValueError, match="at least two"):
        average_checkpoints(Model, [tmp_path / "a.pkl"])


def test_the_command_writes_the_average_and_keeps_an_existing_file(tmp_path, capsys):
    saved(tmp_path, "a.pkl", 0), saved(tmp_path, "b.pkl", 1)
    paths = [str(tmp_path / "a.pkl"), str(tmp_path / "b.pkl")]
    assert cli.main(["average", *paths, "--out", str(tmp_path / "mean.pkl"), "--weights", "0.5,0.5"]) == 0
    assert "averaged (0.5, 0.5)" in capsys.readouterr().out
    before = (tmp_path / "mean.pkl").read_bytes()
    assert cli.main(["average", *paths, "--out", str(tmp_path / "mean.pkl")]) == cli.EXIT_ERROR
    assert "--overwrite" in capsys.readouterr().err and (tmp_path / "mean.pkl").read_bytes() == before
    assert cli.main(["average", *paths, "--out", str(tmp_path / "other.pkl"), "--weights", "1,1"]) == cli.EXIT_ERROR
    assert "sum to 1" in capsys.readouterr().err and not (tmp_path / "other.pkl").exists()
    assert cli.main(["average", *paths, "--out", str(tmp_path / "mean.pkl"), "--overwrite", "--weights", "1,0"]) == 0
    model = Model(arch="deep", channels=(8, 8))
    model.load_model(tmp_path / "mean.pkl")
    first = Model(arch="deep", channels=(8, 8))
    first.load_model(tmp_path / "a.pkl")
    torch.testing.assert_close(model.net.state_dict()["inner.0.weight"], first.net.state_dict()["inner.0.weight"])
