"""``n2n denoise`` as a photographer's tool: many pictures and folders, names, skipping what
is done, a summary and its exit status; alpha; standard input and output; progress in a log.

The network is replaced by a known function (255 - x) wherever only the file handling is
under test, so each test reads back exactly what it expects.
"""
import io
import subprocess
import sys

import numpy as np
import png
import pytest
import torch
from PIL import Image

from n2n_nograd import batch, bitdepth, cli, denoise

Model = pytest.importorskip("Miniproject_2.model").Model
from Miniproject_2.others.denoisers import strength  # noqa: E402


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def inverted(monkeypatch):
    """Model.predict as 255 - x, counting its calls; strength auto keeps it as it is (its choice is
    tested in test_cli.py)."""
    calls = []

    def predict(self, x, out=None, ensemble=1, progress=False, strength=1.0):
        calls.append(progress)
        return out.copy_(255 - x)
    monkeypatch.setattr(Model, "predict", predict)
    monkeypatch.setattr(strength, "auto_strengths", lambda noisy, blind: torch.ones(len(blind)))
    return calls


def picture(path, size=(12, 8), mode="RGB", seed=0):
    Image.effect_noise(size, 40 + seed).convert(mode).save(path)
    return path


@pytest.fixture
def shoot(tmp_path):
    """A folder of pictures in two levels, with a file that is not a picture."""
    folder = tmp_path / "shoot"
    (folder / "day2").mkdir(parents=True)
    picture(folder / "a.png"), picture(folder / "b.jpg", seed=1), picture(folder / "day2" / "c.png", seed=2)
    (folder / "notes.txt").write_text("not a picture")
    return folder


def test_a_folder_into_an_out_dir_keeps_names_and_subfolders(capsys, tmp_path, shoot, inverted):
    out = tmp_path / "clean"
    status, text, _ = run(capsys, "denoise", shoot, "-o", out, "--recursive", "--model", "deep")
    assert status == 0 and "3 denoised, 0 skipped, 0 failed" in text
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.png", "b.jpg", "day2", "day2/c.png"]
    assert torch.equal(denoise.read_picture(out / "a.png"), 255 - denoise.read_picture(shoot / "a.png"))
    assert len(inverted) == 3, "one model, one predict per picture"


def test_without_recursive_only_the_top_folder(capsys, tmp_path, shoot, inverted):
    status, text, _ = run(capsys, "denoise", shoot, "-o", tmp_path / "clean", "--model", "deep")
    assert status == 0 and "2 denoised" in text and not (tmp_path / "clean" / "day2").exists()


def test_files_and_a_name_pattern(capsys, tmp_path, shoot, inverted):
    status, _, _ = run(capsys, "denoise", shoot / "a.png", shoot / "b.jpg", "-o", tmp_path / "out",
                       "--name", "{stem}_denoised{suffix}", "--model", "deep")
    assert status == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_denoised.png", "b_denoised.jpg"]


def test_bad_patterns_and_inputs_are_refused_before_any_work(capsys, tmp_path, shoot, monkeypatch):
    monkeypatch.setattr(Model, "predict", lambda *args, **kwargs: pytest.fail("denoised before the checks"))
    out = tmp_path / "out"
    for argv, words in (([shoot, "--name", "{stem}{size}"], "unknown field {size}"),
                        ([shoot, "--name", "x/{name}"], "a name, not a path"),
                        ([shoot / "a.png", tmp_path / "missing.png"], "no such file"),
                        ([tmp_path / "empty"], "no pictures"),
                        ([shoot / "a.png", shoot / "a.png"], "would both be written"),
                        ([shoot, "--name", "{stem}.gif"], "256 colours"),
                        ([shoot, "--name", "{stem}.xyz"], "unknown picture format")):
        (tmp_path / "empty").mkdir(exist_ok=True)
        status, _, err = run(capsys, "denoise", *argv, "-o", out, "--model", "deep")
        assert status == 2 and words in err, err
        assert len(err.strip().splitlines()) == 1
    assert not out.exists(), "nothing created for a batch refused at the start"


def test_existing_outputs_need_resume_or_overwrite(capsys, tmp_path, shoot, inverted):
    out = tmp_path / "out"
    assert run(capsys, "denoise", shoot / "a.png", "-o", out, "--model", "deep")[0] == 0
    done = (out / "a.png").read_bytes()
    status, _, err = run(capsys, "denoise", shoot, "-o", out, "--model", "deep")
    assert status == 2 and "--resume" in err and "--overwrite" in err
    status, text, _ = run(capsys, "denoise", shoot, "-o", out, "--resume", "--model", "deep")
    assert status == 0 and "1 denoised, 1 skipped, 0 failed" in text and "a.png exists" in text
    assert (out / "a.png").read_bytes() == done and (out / "b.jpg").exists()
    status, text, _ = run(capsys, "denoise", shoot, "-o", out, "--overwrite", "--model", "deep")
    assert status == 0 and "2 denoised, 0 skipped" in text


def test_a_broken_picture_fails_alone_and_the_exit_status_says_so(capsys, tmp_path, shoot, inverted):
    (shoot / "broken.png").write_bytes(b"\x89PNG but not really")
    status, text, err = run(capsys, "denoise", shoot, "-o", tmp_path / "out", "--model", "deep")
    assert status == 2
    assert "2 denoised, 0 skipped, 1 failed" in err and "failed" in err and "broken.png" in err and "a.png" in text
    assert (tmp_path / "out" / "a.png").exists() and not (tmp_path / "out" / "broken.png").exists()


def test_an_interrupted_batch_leaves_whole_files_and_resumes(capsys, tmp_path, shoot, monkeypatch):
    calls = []

    def predict(self, x, out=None, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return out.copy_(255 - x)
    monkeypatch.setattr(Model, "predict", predict)
    out = tmp_path / "out"
    status, _, err = run(capsys, "denoise", shoot, "-o", out, "--model", "deep")
    assert status == 130 and "interrupted at picture 2 of 2" in err and "--resume" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png"], "no partial or temporary file"
    status, text, _ = run(capsys, "denoise", shoot, "-o", out, "--resume", "--model", "deep")
    assert status == 0 and "1 denoised, 1 skipped" in text


def test_several_inputs_without_an_out_dir_are_refused(capsys, tmp_path, shoot):
    status, _, err = run(capsys, "denoise", shoot / "a.png", shoot / "b.jpg", tmp_path / "c.png")
    assert status == 2 and "-o OUTDIR" in err
    status, _, err = run(capsys, "denoise", shoot, tmp_path / "c.png")
    assert status == 2 and "is a folder" in err


@pytest.mark.parametrize("suffix, keeps", [(".png", True), (".webp", True), (".tiff", True), (".jpg", False)])
def test_alpha_is_kept_where_the_format_holds_it(capsys, tmp_path, inverted, suffix, keeps):
    source = tmp_path / "in.png"
    rgba = Image.effect_noise((16, 10), 30).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((16, 10)))
    rgba.save(source)
    status, _, err = run(capsys, "denoise", source, tmp_path / f"out{suffix}", "--model", "deep")
    assert status == 0
    with Image.open(tmp_path / f"out{suffix}") as out:
        assert ("A" in out.getbands()) == keeps
        if keeps:
            assert out.getchannel("A").tobytes() == rgba.getchannel("A").tobytes()
    assert ("alpha" in err) == (not keeps)


def test_standard_input_to_standard_output(tmp_path):
    """``n2n denoise - -``: the picture through a pipe, in the input's format, words on stderr."""
    source = picture(tmp_path / "in.png", size=(8, 8))
    result = subprocess.run([sys.executable, "-m", "n2n_nograd", "denoise", "-", "-", "--model", "deep"],
                            input=source.read_bytes(), capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with Image.open(io.BytesIO(result.stdout)) as out:
        assert out.format == "PNG" and out.size == (8, 8)
    assert b"denoised -" in result.stderr


def test_progress_goes_to_a_log_as_lines(capsys, tmp_path, inverted):
    source = picture(tmp_path / "in.png")
    assert run(capsys, "denoise", source, tmp_path / "out.png", "--model", "deep")[0] == 0
    assert run(capsys, "denoise", source, tmp_path / "quiet.png", "--model", "deep", "--quiet")[0] == 0
    assert inverted == ["lines", False], "stderr is not a terminal under pytest: lines, unless --quiet"


def test_plan_names_and_collisions(tmp_path):
    picture(tmp_path / "x.png"), picture(tmp_path / "x.jpg")
    jobs = batch.plan([tmp_path], tmp_path / "out", "{name}.png")
    assert [job.output.name for job in jobs] == ["x.jpg.png", "x.png.png"]
    with pytest.raises(ValueError, match="would both be written"):
        batch.plan([tmp_path], tmp_path / "out", "{stem}.png")


# --- more than 8 bits per channel ---------------------------------------------------------------

def deep_ramp(bits, height=10, width=12, planes=3):
    """uint16 (H, W, planes): ramps over the whole ``bits`` range, each channel its own."""
    top = 2 ** bits - 1
    ramp = np.linspace(0, top, height * width * planes).round().astype(np.uint16)
    return ramp.reshape(height, width, planes)


@pytest.mark.parametrize("bits", [12, 16])
@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_sixteen_bits_in_sixteen_bits_out_at_the_pictures_own_range(capsys, tmp_path, monkeypatch, bits, suffix):
    """A 12-bit picture in a 16-bit file is read by its range (not divided by 65535 and
    crushed to black) and written back at the same range; the network sees 0-255."""
    seen = []

    def predict(self, x, out=None, **kwargs):
        seen.append(x.clone())
        return out.copy_(x)
    monkeypatch.setattr(Model, "predict", predict)
    pixels = deep_ramp(bits)
    source = tmp_path / f"in{suffix}"
    source.write_bytes(bitdepth.encode_png16(pixels) if suffix == ".png" else bitdepth.encode_tiff16(pixels))
    status, text, _ = run(capsys, "denoise", source, tmp_path / f"out{suffix}", "--model", "deep")
    assert status == 0 and f"{bits} bits per channel" in text
    assert seen[0].max() == 255 and seen[0].dtype == torch.float32
    back = bitdepth.read_deep(tmp_path / f"out{suffix}")
    assert back.bits == bits and back.pixels.dtype == np.uint16
    assert np.abs(back.pixels.astype(int) - pixels.astype(int)).max() <= 1, "the identity keeps every value"


def test_a_declared_range_and_a_grey_picture_with_alpha(capsys, tmp_path, inverted):
    """PNG's sBIT chunk says how many bits are significant; grey + alpha comes back as
    colour + alpha, the alpha untouched."""
    grey = deep_ramp(10, planes=2)
    source = tmp_path / "in.png"
    # A 10-bit grey + alpha picture as PNG stores it: scaled to 16 bits, sBIT saying 10.
    writer = png.Writer(12, 10, greyscale=True, alpha=True, bitdepth=16)
    with open(source, "wb") as f:
        writer.write(f, (grey.astype(np.uint32) * 65535 // 1023).reshape(10, -1).tolist())
    data = source.read_bytes()
    end = data.index(b"IDAT") - 4
    source.write_bytes(data[:end] + bitdepth._chunk(b"sBIT", bytes([10, 10])) + data[end:])
    read = bitdepth.read_deep(source)
    assert read.bits == 10 and read.declared and np.array_equal(read.pixels, grey)
    status, _, _ = run(capsys, "denoise", source, tmp_path / "out.png", "--model", "deep")
    assert status == 0
    back = bitdepth.read_deep(tmp_path / "out.png")
    assert back.bits == 10 and back.declared
    assert back.pixels.shape == (10, 12, 4) and np.array_equal(back.pixels[:, :, 3], grey[:, :, 1])


def test_sixteen_bits_into_jpeg_says_it_is_written_at_eight(capsys, tmp_path, inverted):
    source = tmp_path / "in.png"
    source.write_bytes(bitdepth.encode_png16(deep_ramp(16)))
    status, _, err = run(capsys, "denoise", source, tmp_path / "out.jpg", "--model", "deep")
    assert status == 0 and "16-bit channels (written at 8 bits)" in err and len(err.strip().splitlines()) == 1
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.mode == "RGB" and out.size == (12, 10)


def test_sixteen_bit_png_keeps_the_colour_profile_and_exif(capsys, tmp_path, inverted):
    from PIL import ImageCms
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    source = tmp_path / "in.png"
    source.write_bytes(bitdepth.encode_png16(deep_ramp(16), metadata={"icc_profile": profile,
                                                                       "exif": exif.tobytes()}))
    assert run(capsys, "denoise", source, tmp_path / "out.png", "--model", "deep")[0] == 0
    with Image.open(tmp_path / "out.png") as out:
        assert out.info["icc_profile"] == profile and out.getexif()[0x010F] == "TestCam"


def test_eight_bit_pictures_are_not_deep(tmp_path):
    assert bitdepth.read_deep(picture(tmp_path / "x.png")) is None
    Image.effect_noise((8, 8), 30).convert("RGB").save(tmp_path / "x.tiff")
    assert bitdepth.read_deep(tmp_path / "x.tiff") is None


# --- real signals at every point of a write -----------------------------------------------------

#: A child ``n2n denoise`` (the network replaced by 255 - x) that stops at write step ``point``
#: of ``write_atomic``, says READY on stdout and waits there for the parent's signal.
_CHILD = r'''
import os, signal, sys, time
# A job started in the background by a non-interactive shell inherits SIGINT ignored: Ctrl-C's
# own handler is put back, as an interactive run has it.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path[:0] = [{root!r}, {root!r} + "/Proj_SCIPER"]
from Miniproject_2.model import Model
from n2n_nograd import cli
Model.predict = lambda self, x, out=None, **kwargs: out.copy_(255 - x)
point = int(sys.argv[1])
seen = [0]
def step():
    seen[0] += 1
    if seen[0] == point:
        print("READY", flush=True)
        time.sleep(30)
def around(name, after=False):
    real = getattr(os, name)
    def wrapped(*args, **kwargs):
        if not after:
            step()
        result = real(*args, **kwargs)
        if after:
            step()
        return result
    setattr(os, name, wrapped)
real_fdopen = os.fdopen
class Slow:
    def __init__(self, f): self.f = f
    def __enter__(self): return self
    def __exit__(self, *exc): return self.f.__exit__(*exc)
    def write(self, data):
        half = len(data) // 2
        self.f.write(data[:half]); self.f.flush(); step(); self.f.write(data[half:])
    def __getattr__(self, name): return getattr(self.f, name)
os.fdopen = lambda *args, **kwargs: Slow(real_fdopen(*args, **kwargs))
around("open", after=True); around("fsync"); around("chmod"); around("replace"); around("replace", after=True)
sys.exit(cli.main(sys.argv[2:]))
'''
#: Steps of a write: temporary file made, half written, file synced, permissions set, before
#: the rename, after it, the folder opened, the folder synced.
WRITE_STEPS = range(1, 9)


#: What the fast suite runs: one signal before the temporary file is written, one before and
#: one after the rename; ``-m slow`` runs every step, with both signals, over both targets.
FAST_CASES = {("SIGTERM", "out", 1), ("SIGINT", "input", 5), ("SIGINT", "out", 6)}
CASES = [pytest.param(signame, target, point, marks=() if (signame, target, point) in FAST_CASES else pytest.mark.slow)
         for signame in ("SIGINT", "SIGTERM") for target in ("out", "input") for point in WRITE_STEPS]


@pytest.mark.parametrize("signame, target, point", CASES)
def test_a_signal_at_any_step_of_a_write_loses_nothing(tmp_path, signame, target, point):
    """0 files lost or corrupt: the output is the old file before the rename and the whole new
    one after it, the input is untouched, and no temporary file is left, whatever step of the
    write the signal lands on (over an existing output, and over the input itself with
    --overwrite)."""
    import signal
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[1])
    child = tmp_path / "child.py"
    child.write_text(_CHILD.format(root=root))
    source = picture(tmp_path / "photo.png", size=(40, 30))
    original = source.read_bytes()
    expected = 255 - denoise.read_picture(source)
    output = source if target == "input" else picture(tmp_path / "out.png", size=(40, 30), seed=9)
    old = output.read_bytes()
    argv = [sys.executable, str(child), str(point), "denoise", str(source), str(output), "--model", "deep",
            "--quiet", *(["--overwrite"] if target == "input" else [])]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.strip() == "READY", process.stderr.read()
    process.send_signal(getattr(signal, signame))
    process.communicate(timeout=120)
    assert process.returncode == 130
    if point <= 5:
        assert output.read_bytes() == old, "before the rename, the old file stands"
    else:
        assert torch.equal(denoise.read_picture(output), expected), "after it, the whole new one"
    if target == "out":
        assert source.read_bytes() == original, "the input is never touched"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")) == [], "temporary file left"


XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="A photographer"/>'
       b'</rdf:RDF></x:xmpmeta>')


@pytest.mark.parametrize("suffix, deep", [(".jpg", False), (".png", False), (".webp", False), (".tiff", False),
                                          (".png", True), (".tiff", True)])
def test_the_xmp_packet_reaches_the_output(capsys, tmp_path, inverted, suffix, deep):
    """Ratings, keywords, the photographer's name: XMP goes where EXIF goes, at 8 and 16 bits."""
    source = tmp_path / f"in{suffix}"
    if deep:
        encode = bitdepth.encode_png16 if suffix == ".png" else bitdepth.encode_tiff16
        source.write_bytes(encode(deep_ramp(16), metadata={"xmp": XMP}))
    else:
        encoded, _ = denoise.encode_picture(denoise.read_picture(picture(tmp_path / "x.png")),
                                            denoise.picture_format(source), {"xmp": XMP})
        source.write_bytes(encoded)
    assert denoise.read_metadata(source)["xmp"] == XMP
    assert run(capsys, "denoise", source, tmp_path / f"out{suffix}", "--model", "deep")[0] == 0
    assert denoise.read_metadata(tmp_path / f"out{suffix}")["xmp"] == XMP
