"""--device: cpu, cuda, cuda:N or auto, and one error line for anything else."""
import pytest
import torch

from n2n_nograd import cli
from n2n_nograd.device import resolve_device


@pytest.fixture
def gpus(monkeypatch):
    """Pretend torch sees ``count`` CUDA devices."""
    def pretend(count):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    return pretend


@pytest.mark.parametrize("count, expected", [(0, "cpu"), (2, "cuda")])
def test_auto_takes_the_gpu_when_there_is_one(gpus, count, expected):
    gpus(count)
    assert resolve_device("auto") == expected


def test_devices_that_exist_are_kept(gpus):
    gpus(2)
    assert [resolve_device(name) for name in ("cpu", "cuda", "cuda:0", "cuda:1")] == \
        ["cpu", "cuda", "cuda:0", "cuda:1"]


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "mps", ""])
def test_other_names_are_refused(gpus, name):
    gpus(2)
    with pytest.raises(ValueError, match=f"cpu, cuda, cuda:N or auto, got {name!r}"):
        resolve_device(name)


def test_a_missing_gpu_is_refused(gpus):
    gpus(0)
    with pytest.raises(ValueError, match="--device cuda: torch .* build"):
        resolve_device("cuda")
    gpus(2)
    with pytest.raises(ValueError, match="2 CUDA device.*cuda:0 to cuda:1"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("command", [["train"], ["evaluate"], ["denoise", "in.png", "out.png"]])
def test_every_command_refuses_a_bad_device_in_one_line(capsys, gpus, command):
    gpus(0)
    for device in ("gpu", "cuda:0"):
        assert cli.main([*command, "--device", device]) == cli.EXIT_ERROR
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert "--device" in err and device in err
