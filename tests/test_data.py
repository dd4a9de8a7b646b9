"""The course data format, its loader, the data-set builder and the PSNR."""

import numpy as np
import pytest
import torch
from PIL import Image

from n2n_nograd import crops, data, noise
from n2n_nograd.psnr import psnr, psnr_per_image


def _pictures(n=4, size=8, seed=0):
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


# --- loader ---------------------------------------------------------------

def test_load_pairs_accepts_tuple_and_list(tmp_path):
    a, b = _pictures(seed=1), _pictures(seed=2)
    torch.save((a, b), tmp_path / "t.pkl")
    torch.save([a, b], tmp_path / "l.pkl")
    for name in ("t.pkl", "l.pkl"):
        x, y = data.load_pairs(tmp_path / name, "train")
        assert torch.equal(x, a) and torch.equal(y, b)


BAD_CONTENTS = {
    "a single tensor": (lambda: _pictures(), "holds a Tensor"),
    "three tensors": (lambda: (_pictures(), _pictures(), _pictures()), "3 items"),
    "tensor and int": (lambda: (_pictures(), 3), "int"),
    "dict": (lambda: {"a": _pictures()}, "holds a dict"),
    "float dtype": (lambda: (_pictures().float(), _pictures().float()), "torch.float32"),
    "rank 3": (lambda: (_pictures()[0], _pictures()[0]), "4 dimensions"),
    "one channel": (lambda: (_pictures()[:, :1], _pictures()[:, :1]), "1 channels"),
    "shape mismatch": (lambda: (_pictures(n=4), _pictures(n=5)), "but"),
    "no pictures": (lambda: (_pictures(n=0), _pictures(n=0)), "no pictures"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTENTS))
def test_load_pairs_rejects_bad_contents(tmp_path, case):
    make, fragment = BAD_CONTENTS[case]
    path = tmp_path / "bad.pkl"
    torch.save(make(), path)
    with pytest.raises(ValueError) as err:
        data.load_pairs(path, "val")
    message = str(err.value)
    assert str(path) in message and fragment in message
    assert "\n" not in message


def test_load_pairs_names_the_right_tensor(tmp_path):
    path = tmp_path / "val_data.pkl"
    torch.save((_pictures(), _pictures().float()), path)
    with pytest.raises(ValueError, match="clean has dtype"):
        data.load_pairs(path, "val")


@pytest.mark.parametrize("content", [b"", b"not a pickle at all", b"PK\x03\x04garbage"])
def test_load_pairs_rejects_unreadable_files(tmp_path, content):
    path = tmp_path / "train_data.pkl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="cannot be read by torch.load") as err:
        data.load_pairs(path, "train")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_load_pairs_refuses_arbitrary_pickles(tmp_path):
    path = tmp_path / "evil.pkl"
    torch.save((_pictures(), Image.new("RGB", (2, 2))), path)
    with pytest.raises(ValueError, match="cannot be read by torch.load"):
        data.load_pairs(path, "train")


def test_load_pairs_missing_file_and_directory(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        data.load_pairs(tmp_path / "nope.pkl", "train")
    with pytest.raises(ValueError, match="is a directory"):
        data.load_pairs(tmp_path, "train")
    with pytest.raises(ValueError, match="kind"):
        data.load_pairs(tmp_path / "nope.pkl", "test")


# --- PSNR -----------------------------------------------------------------

def test_psnr_is_the_graders_formula():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(5, 3, 6, 7, generator=g)
    noisy = (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    grader = -10 * torch.log10(((noisy - clean) ** 2).mean((1, 2, 3))).mean()
    assert psnr(noisy, clean) == pytest.approx(grader.item(), abs=1e-5)
    assert psnr_per_image(noisy, clean).shape == (5,)


def test_psnr_averages_per_image_values():
    clean = torch.zeros(2, 3, 4, 4)
    noisy = clean.clone()
    noisy[0] += 0.1   # MSE 1e-2 -> 20 dB
    noisy[1] += 0.01  # MSE 1e-4 -> 40 dB
    assert psnr(noisy, clean) == pytest.approx(30.0, abs=1e-4)


def test_psnr_rejects_misuse():
    with pytest.raises(ValueError):
        psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError):
        psnr(torch.zeros(3, 4, 4), torch.zeros(3, 4, 4))
    with pytest.raises(TypeError):
        psnr(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), torch.zeros(1, 3, 4, 4, dtype=torch.uint8))


# --- noise model ----------------------------------------------------------

def test_noise_is_rounded_clipped_gaussian():
    clean = torch.full((200, 3, 16, 16), 128, dtype=torch.uint8)
    noisy = noise.add_noise(clean, 20.0, torch.Generator().manual_seed(0))
    assert noisy.dtype == torch.uint8
    diff = noisy.float() - 128
    assert abs(diff.mean().item()) < 0.2
    assert diff.std().item() == pytest.approx(20.0, rel=0.02)
    dark = noise.add_noise(torch.zeros(10, 3, 8, 8, dtype=torch.uint8), 20.0,
                          torch.Generator().manual_seed(0))
    assert (dark == 0).float().mean().item() == pytest.approx(0.5 + 0.5 * 0.0199, abs=0.05)


def test_calibration_hits_the_target():
    clean = _pictures(n=50, size=16)
    z = torch.randn(clean.shape, generator=torch.Generator().manual_seed(3))
    sigma = noise.calibrate_sigma(clean, z, target=25.0)
    assert noise.input_psnr(noise.noisy_version(clean, sigma, z), clean) == pytest.approx(25.0, abs=0.01)


# --- builder with the bundled photos -------------------------------------

@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundled")
    report = data.build(out, n_train=300, n_val=120, seed=7)
    return out, report


def test_build_writes_course_format(bundled):
    out, report = bundled
    a, b = data.load_pairs(out / data.TRAIN_FILE, "train")
    noisy, clean = data.load_pairs(out / data.VAL_FILE, "val")
    assert a.shape == b.shape == (300, 3, 32, 32)
    assert noisy.shape == clean.shape == (120, 3, 32, 32)
    assert not torch.equal(a, b), "the two training draws must be independent"
    assert (out / data.INFO_FILE).exists()


def test_build_calibrates_to_course_psnr(bundled):
    out, report = bundled
    noisy, clean = data.load_pairs(out / data.VAL_FILE, "val")
    measured = noise.input_psnr(noisy, clean)
    assert measured == pytest.approx(report.val_input_psnr, abs=1e-4)
    assert abs(measured - 20.7) <= 0.3
    assert 15 < report.sigma < 35


def test_training_pairs_have_the_same_noise_level(bundled):
    out, report = bundled
    a, b = data.load_pairs(out / data.TRAIN_FILE, "train")
    # Two independent draws differ by noise of variance 2 sigma^2 (less where clipped).
    spread = (a.float() - b.float()).std().item() / np.sqrt(2)
    assert 0.8 * report.sigma < spread < 1.05 * report.sigma


def test_bundled_split_keeps_photos_apart(bundled):
    _, report = bundled
    assert report.train_photos and report.val_photos
    assert not set(report.train_photos) & set(report.val_photos)
    # The stereo pair shows one scene: both halves on the same side.
    sides = {name: ("train" if any(p.endswith(name) for p in report.train_photos) else "val")
             for name in ("motorcycle_left.png", "motorcycle_right.png")}
    assert len(set(sides.values())) == 1


def test_build_is_deterministic(tmp_path, bundled):
    out, _ = bundled
    data.build(tmp_path / "again", n_train=300, n_val=120, seed=7)
    data.build(tmp_path / "other", n_train=300, n_val=120, seed=8)
    for name, kind in ((data.TRAIN_FILE, "train"), (data.VAL_FILE, "val")):
        first = data.load_pairs(out / name, kind)
        again = data.load_pairs(tmp_path / "again" / name, kind)
        other = data.load_pairs(tmp_path / "other" / name, kind)
        assert all(torch.equal(x, y) for x, y in zip(first, again))
        assert not torch.equal(first[0], other[0])


# --- builder with the user's photos --------------------------------------

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40),
           (40, 220, 220), (220, 40, 220), (120, 120, 120), (250, 160, 60)]


def _photo_folder(root):
    """Solid-colour photos in several formats and folders, so every crop tells its photo."""
    paths = []
    for i, colour in enumerate(COLOURS):
        folder = root / ("nested/deeper" if i % 3 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.new("RGB", (64 + 8 * i, 48 + 4 * i), colour)
        if i == 6:
            img, name = img.convert("L"), f"grey{i}.png"
        elif i == 5:
            img, name = img.convert("RGBA"), f"alpha{i}.PNG"
        else:
            name = f"photo{i}.png"
        img.save(folder / name)
        paths.append(folder / name)
    Image.new("RGB", (10, 100), (0, 0, 0)).save(root / "too_small.png")
    (root / "notes.txt").write_text("not a photo")
    return paths


def _colour_of(picture):
    return tuple(int(v) for v in picture.float().mean((1, 2)).round())


def _nearest(colour):
    return min(COLOURS, key=lambda c: sum((a - b) ** 2 for a, b in zip(c, colour)))


def test_own_photos_are_split_by_photo(tmp_path):
    photos = tmp_path / "photos"
    _photo_folder(photos)
    report = data.build(tmp_path / "out", photos=photos, n_train=80, n_val=20, size=16, seed=1)
    assert len(report.train_photos) + len(report.val_photos) == len(COLOURS)
    assert [p for p in report.skipped_photos if p.endswith("too_small.png")]
    val_colours = {tuple(Image.open(p).convert("RGB").getpixel((0, 0))) for p in report.val_photos}
    train_colours = {tuple(Image.open(p).convert("RGB").getpixel((0, 0))) for p in report.train_photos}

    noisy, clean = data.load_pairs(tmp_path / "out" / data.VAL_FILE, "val")
    assert clean.shape == (20, 3, 16, 16)
    assert {_colour_of(c) for c in clean} <= val_colours
    a, b = data.load_pairs(tmp_path / "out" / data.TRAIN_FILE, "train")
    assert {_nearest(_colour_of(x)) for x in torch.cat([a, b])} <= train_colours
    assert abs(noise.input_psnr(noisy, clean) - 20.7) <= 0.3


def test_photo_split_depends_only_on_names(tmp_path):
    photos = _photo_folder(tmp_path)
    train, val = crops.split_photos(photos, tmp_path)
    assert len(val) == round(len(photos) / 5) and not set(train) & set(val)
    assert crops.split_photos(list(reversed(photos)), tmp_path) == (train, val)
    extra = tmp_path / "extra.png"
    Image.new("RGB", (64, 64)).save(extra)
    train2, val2 = crops.split_photos(photos + [extra], tmp_path)
    assert set(train) <= set(train2) | {extra} and set(val) <= set(val2) | {extra}
    assert set(train) & set(val2) == set() and set(val) & set(train2) == set()


def test_own_photos_need_two(tmp_path):
    Image.new("RGB", (64, 64)).save(tmp_path / "only.png")
    with pytest.raises(ValueError, match="need at least 2"):
        data.build(tmp_path / "out", photos=tmp_path, n_train=10, n_val=2)
    with pytest.raises(ValueError, match="not a directory"):
        data.build(tmp_path / "out", photos=tmp_path / "missing", n_train=10, n_val=2)


def test_broken_photo_is_named(tmp_path):
    for i in range(3):
        Image.new("RGB", (64, 64), (i, i, i)).save(tmp_path / f"ok{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        data.build(tmp_path / "out", photos=tmp_path, n_train=10, n_val=2)


def test_sixteen_bit_grey_is_rescaled():
    grey = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    assert crops.to_rgb(grey).getpixel((0, 0)) == (255, 255, 255)


# --- training options: more photos, noise levels, colours ------------------

def test_sigma_range_gives_each_pair_its_own_level(tmp_path):
    report = data.build(tmp_path, n_train=400, n_val=20, seed=3, sigma_range=(5, 45))
    a, b = (x.float() for x in data.load_pairs(tmp_path / data.TRAIN_FILE, "train"))
    spread = ((a - b).std(dim=(1, 2, 3)) / np.sqrt(2))
    # Per-pair noise levels cover the range (clipping only lowers them).
    assert spread.min() < 12 and spread.max() > 38
    assert report.train_sigma_range == [5.0, 45.0]
    # Validation keeps the calibrated course noise.
    noisy, clean = data.load_pairs(tmp_path / data.VAL_FILE, "val")
    assert abs(noise.input_psnr(noisy, clean) - 20.7) <= 0.3


def test_validation_set_does_not_depend_on_training_options(tmp_path, bundled):
    out, _ = bundled
    data.build(tmp_path, n_train=300, n_val=120, seed=7, sigma_range=(15, 35), augment=["channels"])
    for first, again in zip(data.load_pairs(out / data.VAL_FILE, "val"),
                            data.load_pairs(tmp_path / data.VAL_FILE, "val")):
        assert torch.equal(first, again)


@pytest.mark.parametrize("bad", [(-1, 10), (30, 20), (0, 300)])
def test_sigma_range_is_checked(tmp_path, bad):
    with pytest.raises(ValueError, match="--sigma-range"):
        data.build(tmp_path, n_train=10, n_val=2, sigma_range=bad)


def test_unclipped_targets_keep_zero_mean_noise(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, colour in enumerate([(0, 0, 0), (255, 255, 255), (3, 250, 128)]):
        Image.new("RGB", (40, 40), colour).save(photos / f"flat{i}.png")
    report = data.build(tmp_path / "out", photos=photos, n_train=300, n_val=10, size=16,
                        seed=2, unclipped_targets=True)
    a, b = data.load_pairs(tmp_path / "out" / data.TRAIN_FILE, "train")
    assert a.dtype == torch.uint8 and b.dtype == torch.int16 and report.unclipped_targets
    assert b.min() < 0 and b.max() > 255
    train_colours = {tuple(Image.open(p).getpixel((0, 0))) for p in report.train_photos}
    # Per picture, the unclipped target's channel means sit on the clean colour.
    for picture in b[:50]:
        means = picture.float().mean((1, 2))
        assert any(all(abs(m - c) < 8 for m, c in zip(means, colour)) for colour in train_colours)


def test_channel_permutation_keeps_each_picture_and_varies_orders():
    clean = torch.stack([torch.stack([torch.full((4, 4), v, dtype=torch.uint8) for v in (10, 20, 30)])] * 600)
    out = noise.augment_colours(clean, ["channels"], torch.Generator().manual_seed(0))
    orders = {tuple(int(v) for v in p[:, 0, 0]) for p in out}
    assert len(orders) == 6 and all(sorted(o) == [10, 20, 30] for o in orders)


def test_gain_darkens_by_at_most_the_lowest_gain():
    clean = torch.full((500, 3, 2, 2), 200, dtype=torch.uint8)
    out = noise.augment_colours(clean, ["gain"], torch.Generator().manual_seed(0)).float()
    assert out.max() <= 200 and out.min() >= round(200 * noise.GAIN_LOW)
    assert out.mean((2, 3)).std() > 10  # channels move independently


def test_exposure_brightens_without_clipping_and_darkens():
    clean = torch.stack([torch.full((3, 2, 2), 100, dtype=torch.uint8), torch.full((3, 2, 2), 250, dtype=torch.uint8)] * 300)
    out = noise.augment_colours(clean, ["exposure"], torch.Generator().manual_seed(0)).float()
    dim, bright = out[0::2], out[1::2]
    assert dim.max() > 150 and dim.min() < 70 and dim.max() <= round(100 / noise.GAIN_LOW)
    assert bright.max() <= 255 and bright.min() >= round(250 * noise.GAIN_LOW)


def test_unknown_augmentation_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown augmentation 'hue'"):
        data.build(tmp_path, n_train=10, n_val=2, augment=["hue"])


def test_extra_training_photos_join_training_only(tmp_path, bundled):
    _, plain = bundled
    extra = tmp_path / "extra"
    extra.mkdir()
    Image.new("RGB", (64, 64), (250, 10, 10)).save(extra / "red.png")
    report = data.build(tmp_path / "out", n_train=300, n_val=120, seed=7, extra_train=[extra])
    assert report.train_photos == plain.train_photos + [str(extra / "red.png")]
    assert report.val_photos == plain.val_photos


def test_testset_holds_clean_crops_of_its_photos(tmp_path):
    photos = tmp_path / "photos"
    paths = _photo_folder(photos)
    report = data.build_testset(tmp_path / "test", photos, n=40, size=16, seed=1)
    clean = data.load_clean(tmp_path / "test")
    assert clean.shape == (40, 3, 16, 16) and clean.dtype == torch.uint8
    colours = {tuple(Image.open(p).convert("RGB").getpixel((0, 0))) for p in paths}
    assert {_colour_of(c) for c in clean} <= colours
    assert len(report.photos) == len(paths)
    assert torch.equal(clean, data.load_clean(tmp_path / "test" / data.TEST_FILE))


def test_load_clean_reads_a_validation_set(bundled):
    out, _ = bundled
    assert torch.equal(data.load_clean(out), data.load_pairs(out / data.VAL_FILE, "val")[1])


def test_load_clean_rejects_a_pair(tmp_path):
    torch.save((_pictures(), _pictures()), tmp_path / data.TEST_FILE)
    with pytest.raises(ValueError, match="expected a uint8 tensor"):
        data.load_clean(tmp_path)


def test_near_duplicate_photos_are_left_out(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).resize((240, 180)).save(photos / f"p{i}.png")
    original = Image.open(photos / "p1.png")
    original.resize((120, 90)).save(photos / "p1_small.jpg", quality=90)
    report = data.build(tmp_path / "out", photos=photos, n_train=20, n_val=4, size=16)
    assert [line.split(" (")[0] for line in report.duplicate_photos] in (
        [str(photos / "p1_small.jpg")], [str(photos / "p1.png")])
    assert len(report.train_photos) + len(report.val_photos) == 3
    test = data.build_testset(tmp_path / "test", photos, n=8, size=16)
    assert len(test.photos) == 3 and len(test.duplicate_photos) == 1


def test_a_set_with_noiseless_pictures_says_why_its_input_psnr_is_infinite():
    clean = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    noisy = (clean.int() + 3).clamp(0, 255).to(torch.uint8)
    assert noise.noiseless_note(noisy, clean) == ""
    noisy[1], noisy[3] = clean[1], clean[3]
    assert noise.input_psnr(noisy, clean) == float("inf")
    assert "2 of 5 pictures carry no noise" in noise.noiseless_note(noisy, clean)
