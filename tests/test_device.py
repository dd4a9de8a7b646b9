"""--device: cpu, cuda, cuda:N or auto, and one error line for anything else."""
import pytest
import torch

from n2n_nograd import cli, device
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


# --- --precision ----------------------------------------------------------------------------

@pytest.mark.parametrize("flags, expected", [({"avx512_bf16", "avx2"}, "bf16"), ({"amx_bf16"}, "bf16"),
                                             ({"avx2", "fma"}, "fp32"), (set(), "fp32")])
def test_auto_precision_is_bf16_where_the_cpu_has_bfloat16_units(monkeypatch, flags, expected):
    monkeypatch.setattr(device, "_cpu_flags", lambda: flags)
    notes = []
    assert device.resolve_precision("auto", "cpu", notes.append) == expected
    assert notes == [], "auto never warns: it picks what runs fast"


@pytest.mark.parametrize("supported, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_on_a_gpu(monkeypatch, supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: supported)
    assert device.resolve_precision("auto", "cuda") == expected


def test_bf16_without_bfloat16_units_runs_and_says_it_will_be_slow(monkeypatch):
    monkeypatch.setattr(device, "_cpu_flags", lambda: {"avx2"})
    notes = []
    assert device.resolve_precision("bf16", "cpu", notes.append) == "bf16"
    assert len(notes) == 1 and "slower than fp32" in notes[0]
    assert device.resolve_precision("fp32", "cpu", notes.append) == "fp32" and len(notes) == 1


def test_the_commands_take_precision(capsys, tmp_path, monkeypatch):
    from PIL import Image
    monkeypatch.setattr(device, "_cpu_flags", lambda: {"avx2"})
    source = tmp_path / "in.png"
    Image.effect_noise((16, 12), 30).convert("RGB").save(source)
    status = cli.main(["denoise", str(source), str(tmp_path / "out.png"), "--model", "deep", "--precision", "bf16"])
    err = capsys.readouterr().err
    assert status == 0 and "n2n denoise: note: --precision bf16" in err
    with pytest.raises(SystemExit):
        cli.main(["denoise", str(source), str(tmp_path / "o.png"), "--precision", "fp16"])
    assert "--precision: invalid choice" in capsys.readouterr().err
