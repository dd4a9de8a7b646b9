"""Noise2Noise data sets: the course's file format, a loader that checks it,
and a builder that makes look-alike sets from photographs.

File format (as handed out for EE-559 Miniproject 2)
----------------------------------------------------
``train_data.pkl``  tuple ``(noisy_a, noisy_b)``: two independent noisy
                    versions of the same pictures.
``val_data.pkl``    tuple ``(noisy, clean)``.
Each element is a ``torch.uint8`` tensor of shape (N, 3, H, W) written with
``torch.save``.  The course files hold 50,000 and 1,000 pictures of 32x32.

Pictures
--------
The course pictures are whole photographs shrunk to 32x32, so the builder cuts
square crops whose side is drawn log-uniformly between ``size`` pixels and the
short side of the photo (from full-resolution texture up to the whole scene)
and shrinks each crop to ``size`` x ``size`` by area averaging (PIL's box
filter with sub-pixel crop boxes; big crops are taken from a pyramid of 2x2
averages of the photo, which is faster and differs from the exact area
average by a fraction of a grey level on average).  Crops are shared out evenly among the
photos of a split and then shuffled, so the first N pairs are a fair subset.

Default photos: the colour photographs bundled inside scikit-image's package
directory, so nothing is downloaded.  Training: astronaut, motorcycle_left and
motorcycle_right (a stereo pair of one scene, kept on the same side), rocket,
hubble_deep_field, ihc (immunohistochemistry) and retina.  Validation: chelsea
and coffee.  The grayscale photographs (camera, moon, grass, ...) are left out:
the course pictures are in colour and grey crops copied to three channels
would teach the network that colour channels are always equal.  The synthetic
pictures (color, phantom, chessboards, logo, horse) are left out as well.

More training photos (``extra_train=[DIR, ...]``, ``--train-photos``): every
PNG/JPEG below each folder joins the training side only, on top of the split
above; the validation photos do not change, so validation numbers stay
comparable.  ``n2n photos`` installs a pinned collection for this (see
``photos.py``).

Own photos (``photos=DIR``): every PNG/JPEG below DIR, searched recursively,
converted to RGB (grayscale is copied to three channels, alpha is dropped,
EXIF rotation is applied).  Photos are split, never crops: photos are ordered
by the SHA-1 of their path relative to DIR and the first fifth (at least one)
go to validation.  That split depends only on the file names, not on the seed,
and adding photos never moves an existing photo to the other side.  Photos
whose short side is below ``size`` are skipped, and so are near-duplicates: a
photo whose 16x16 colour thumbnail is within NEAR_DUPLICATE levels (mean
absolute difference) of an earlier photo's -- the same picture resized or
re-encoded -- is left out, training photos being kept before validation ones,
so that no picture is both learnt and used to validate.

Noise model
-----------
``noisy = clip(round(clean + sigma * z), 0, 255)`` on the 0-255 scale, with
``z`` standard normal, independent per pixel and channel.  Training pictures
get two independent draws, validation pictures one (stored with the clean
picture).  ``sigma`` is found by bisection, with the validation draw of ``z``
held fixed, so that the validation input PSNR -- the grader's formula, the
mean over pictures of -10 log10(MSE) on the [0, 1] scale -- is 20.7 dB, the
value of the course's validation set.  With the default photos and size 32
that gives sigma close to 24.5.

With ``sigma_range=(lo, hi)`` each training picture gets its own sigma, drawn
uniformly in [lo, hi] (both noisy draws of a pair share it), so the network
learns more than one noise level; validation keeps the calibrated sigma.

Unclipped targets (``unclipped_targets=True``): clipping to 0-255 makes the
noise of dark and bright pixels lose its zero mean, and a network trained
Noise2Noise-style on clipped targets learns that bias as a colour shift.  With
this option ``noisy_b``, the training target, is stored unclipped, as int16
(``round(clean + sigma z)``, -255..510), while ``noisy_a``, the input, stays the
clipped uint8 picture a camera file would hold.  Such a file is no longer in
the course's format (``load_pairs`` accepts it; ``n2n train`` passes the
target as floats).

Colour augmentation (``augment``), applied to the clean training pictures
before the noise, so that the network cannot learn the colour statistics of a
few photos: ``"channels"`` permutes the three channels of each picture (one of
the 6 orders, uniformly); ``"gain"`` scales each channel of each picture by
its own factor drawn log-uniformly in [GAIN_LOW, 1] (darker, never clipped);
``"exposure"`` does the same in [GAIN_LOW, 1 / GAIN_LOW] but brightens a channel
no further than its brightest pixel allows (so brightness is not biased down,
and still nothing clips).

Test sets (:func:`build_testset`) hold clean pictures only, cut the same way
from photos of a source used nowhere else; the noise is added at evaluation
time, at each noise level asked for.

Fresh noise (``fresh_noise=True``, ``n2n data --fresh-noise``): the clean
training pictures are stored (``train_clean.pkl``, after colour augmentation)
instead of noisy pairs, and ``n2n train`` draws a new Noise2Noise pair of each
picture every epoch (:func:`fresh_pairs`), with sigma per picture in
``sigma_range``: over many epochs the network sees many noise draws and levels
of every picture, as a blind denoiser must. The network still never sees a
clean target: each pair is two independent noisy draws. The draws depend only on
the seed and the epoch, so a resumed run sees the noise it would have seen.

Camera noise (``noise="camera"`` or ``"mixture"``, ``n2n data --noise``, fresh noise
only): each pair goes through the camera pipeline of ``camera.py`` (un-processed to raw,
shot and read noise, demosaiced and processed back, JPEG for a share); "mixture" mixes it
with the Gaussian noise above and grey pictures (:data:`camera.MIXTURE`). The validation
pictures then get the same noise, once, and their clean picture is the pipeline's
noiseless result (what a camera would have made of the scene without noise).

The result is fully determined by the seed (and the photos).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from Miniproject_2.others.plumbing.checkpoint import save_tensors

from .camera import NOISE_KINDS, mixture_pairs
from .psnr import psnr

TRAIN_FILE = "train_data.pkl"
VAL_FILE = "val_data.pkl"
TEST_FILE = "test_clean.pkl"
TRAIN_CLEAN_FILE = "train_clean.pkl"
INFO_FILE = "build.json"
TARGET_PSNR = 20.7
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")

_NAMES = {"train": ("noisy_a", "noisy_b"), "val": ("noisy", "clean")}

AUGMENTATIONS = ("channels", "gain", "exposure")
#: Lowest per-channel gain of the "gain" augmentation.
GAIN_LOW = 0.6

BUNDLED_TRAIN = ("astronaut.png", "motorcycle_left.png", "motorcycle_right.png",
                 "rocket.jpg", "hubble_deep_field.jpg", "ihc.png", "retina.jpg")
BUNDLED_VAL = ("chelsea.png", "coffee.png")

# Noise is drawn in blocks of this many pictures: it bounds the float32
# scratch memory, and keeping it fixed keeps the random stream reproducible.
_NOISE_BLOCK = 4096

#: Mean absolute difference (0-255) of 16x16 thumbnails under which two photos are one.
NEAR_DUPLICATE = 4.0

# See _crops: output pixels cover at least this many pyramid pixels per side.
_MIN_COVER = 4


def load_pairs(path, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Load and check a course-format file; ``kind`` is "train" or "val".

    Returns the two uint8 tensors.  Any problem raises one ValueError whose
    message names the file and what is wrong with it.
    """
    if kind not in _NAMES:
        raise ValueError(f"kind must be 'train' or 'val', not {kind!r}")
    names = _NAMES[kind]
    expected = f"a tuple ({names[0]}, {names[1]}) of two uint8 tensors (N, 3, H, W)"
    obj = _read(path, expected)
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2
            and all(isinstance(t, torch.Tensor) for t in obj)):
        raise ValueError(f"{path}: holds {_describe(obj)}, expected {expected}")
    for index, (name, tensor) in enumerate(zip(names, obj)):
        # The training target may be unclipped int16 (see the module docstring).
        _check_pictures(path, name, tensor, torch.int16 if kind == "train" and index else None)
    a, b = obj
    if a.shape != b.shape:
        raise ValueError(f"{path}: {names[0]} has shape {tuple(a.shape)} but "
                         f"{names[1]} has shape {tuple(b.shape)}")
    return a, b


def _read(path, expected: str):
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: file not found (expected {expected})")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a data file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for damaged files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: cannot be read by torch.load ({first_line})") from exc


def _check_pictures(path, name: str, tensor: torch.Tensor, also=None) -> None:
    if tensor.dtype not in (torch.uint8, also):
        raise ValueError(f"{path}: {name} has dtype {tensor.dtype}, expected torch.uint8"
                         + (f" or {also}" if also else ""))
    if tensor.ndim != 4:
        raise ValueError(f"{path}: {name} has shape {tuple(tensor.shape)}, "
                         "expected 4 dimensions (N, 3, H, W)")
    if tensor.shape[1] != 3:
        raise ValueError(f"{path}: {name} has {tensor.shape[1]} channels "
                         f"(shape {tuple(tensor.shape)}), expected 3")
    if tensor.shape[0] == 0:
        raise ValueError(f"{path}: holds no pictures (N = 0)")


def load_clean(path) -> torch.Tensor:
    """The clean pictures of an evaluation set: ``test_clean.pkl`` of a test set, or the
    clean half of a ``val_data.pkl``; either file, or a folder holding one of them."""
    path = Path(path)
    if path.is_dir():
        path = path / TEST_FILE if (path / TEST_FILE).exists() else path / VAL_FILE
    if path.name == VAL_FILE:
        return load_pairs(path, "val")[1]
    obj = _read(path, "a uint8 tensor (N, 3, H, W) of clean pictures")
    if not isinstance(obj, torch.Tensor):
        raise ValueError(f"{path}: holds {_describe(obj)}, expected a uint8 tensor (N, 3, H, W)")
    _check_pictures(path, "the clean pictures", obj)
    return obj


def _describe(obj) -> str:
    if isinstance(obj, (tuple, list)):
        kinds = ", ".join(type(x).__name__ for x in obj[:4])
        return f"a {type(obj).__name__} of {len(obj)} items ({kinds}{', ...' if len(obj) > 4 else ''})"
    return f"a {type(obj).__name__}"


def save_pairs(path, first: torch.Tensor, second: torch.Tensor) -> None:
    """Write a course-format file; a crash never leaves a half-written file."""
    # contiguous() so that torch.save never stores a larger underlying buffer.
    save_tensors((first.contiguous(), second.contiguous()), path)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL picture as 8-bit RGB (grey copied to 3 channels, alpha dropped)."""
    if img.mode.startswith("I"):
        # 16-bit grey (PNG's only integer mode): PIL's own conversion would clip instead of
        # rescale. The scale is the file's, never guessed from the values: a dark 16-bit
        # picture stays dark.
        grey = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.rint(grey * (255.0 / 65535.0)).clip(0, 255).astype(np.uint8))
    return img.convert("RGB")


def open_rgb(path) -> Image.Image:
    """Decode a picture file to RGB, honouring the EXIF rotation of camera files."""
    with Image.open(path) as img:
        return to_rgb(ImageOps.exif_transpose(img))


def bundled_photo_dir() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data"


def bundled_split() -> tuple[list[Path], list[Path]]:
    folder = bundled_photo_dir()
    train = [folder / name for name in BUNDLED_TRAIN]
    val = [folder / name for name in BUNDLED_VAL]
    missing = [str(p) for p in train + val if not p.exists()]
    if missing:
        raise ValueError(f"scikit-image's bundled photos are missing: {', '.join(missing)}; "
                         "pass --photos DIR with your own photographs")
    return train, val


def find_photos(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a directory of photos")
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def split_photos(photos: list[Path], root) -> tuple[list[Path], list[Path]]:
    """Split own photos into (train, val) by the hash of their relative path."""
    if len(photos) < 2:
        raise ValueError(f"{root}: found {len(photos)} PNG/JPEG photo(s); need at least 2 "
                         "(one for training, one for validation)")

    def key(p: Path) -> str:
        return hashlib.sha1(p.relative_to(root).as_posix().encode()).hexdigest()

    ordered = sorted(photos, key=key)
    n_val = max(1, round(len(ordered) / 5))
    return ordered[n_val:], ordered[:n_val]


def _usable(photos: list[Path], size: int) -> tuple[list[Path], list[Path]]:
    """(photos big enough for a size x size crop, photos too small)."""
    keep, small = [], []
    for p in photos:
        try:
            # Only the header is read; the short side does not depend on EXIF rotation.
            with Image.open(p) as img:
                w, h = img.size
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise ValueError(f"{p}: not a readable PNG/JPEG picture ({exc})") from exc
        (keep if min(w, h) >= size else small).append(p)
    return keep, small


def _thumbnail(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        img.draft("RGB", (64, 64))  # JPEGs decode at a fraction of their size
        return np.asarray(to_rgb(ImageOps.exif_transpose(img)).resize((16, 16), Image.BOX), dtype=np.float32)


def drop_near_duplicates(photos: list[Path]) -> tuple[list[Path], list[str]]:
    """(photos without near-duplicates, one "path (near-duplicate of path)" line per photo left out)."""
    kept, thumbnails, dropped = [], [], []
    for path in photos:
        thumbnail = _thumbnail(path)
        twin = next((k for k, t in zip(kept, thumbnails) if np.abs(t - thumbnail).mean() < NEAR_DUPLICATE), None)
        if twin is None:
            kept.append(path)
            thumbnails.append(thumbnail)
        else:
            dropped.append(f"{path} (near-duplicate of {twin})")
    return kept, dropped


def _crops(path: Path, count: int, size: int, seed: np.random.SeedSequence) -> np.ndarray:
    """``count`` random multi-scale crops of one photo, as (count, size, size, 3) uint8."""
    try:
        img = open_rgb(path)
    except (OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{path}: cannot decode picture ({exc})") from exc
    w, h = img.size
    rng = np.random.default_rng(seed)
    sides = np.exp(rng.uniform(np.log(size), np.log(min(w, h)), count))
    xs = rng.uniform(0.0, 1.0, count) * (w - sides)
    ys = rng.uniform(0.0, 1.0, count) * (h - sides)
    # Box-filtering a huge crop straight from the photo is what makes big
    # photos slow.  A pyramid of 2x2 averages gives the same area average up
    # to sub-pixel alignment, as long as each output pixel still covers at
    # least _MIN_COVER x _MIN_COVER pixels of the level it is taken from.
    levels = [img]
    while min(levels[-1].size) >= 2 * _MIN_COVER * size:
        levels.append(levels[-1].reduce(2))
    out = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        level = 0
        while level + 1 < len(levels) and sides[i] / 2 ** (level + 1) >= _MIN_COVER * size:
            level += 1
        scale = 2 ** level
        box = (xs[i] / scale, ys[i] / scale, (xs[i] + sides[i]) / scale, (ys[i] + sides[i]) / scale)
        out[i] = np.asarray(levels[level].resize((size, size), Image.BOX, box=box))
    return out


def clean_pictures(photos: list[Path], n: int, size: int,
                   seed: np.random.SeedSequence) -> torch.Tensor:
    """``n`` shuffled clean pictures (n, 3, size, size) uint8, shared evenly among photos."""
    per_photo_seeds = seed.spawn(len(photos))
    rng = np.random.default_rng(seed)
    counts = np.full(len(photos), n // len(photos))
    counts[rng.permutation(len(photos))[: n % len(photos)]] += 1
    jobs = [(p, int(c), s) for p, c, s in zip(photos, counts, per_photo_seeds) if c > 0]
    # PIL releases the GIL while resampling, so threads use all cores.
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        parts = list(pool.map(lambda job: _crops(job[0], job[1], size, job[2]), jobs))
    pictures = np.concatenate(parts)[rng.permutation(n)]
    return torch.from_numpy(pictures).permute(0, 3, 1, 2).contiguous()


def noisy_version(clean: torch.Tensor, sigma, z: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """The noise model, for a given standard-normal draw ``z`` of the same shape.

    ``sigma`` is one number, or a length-N tensor of one sigma per picture.
    ``clip=False`` keeps values outside 0-255, as int16.
    """
    if isinstance(sigma, torch.Tensor):
        noisy = z.mul(sigma.view(-1, 1, 1, 1)).add_(clean)
    else:
        noisy = torch.add(clean, z, alpha=sigma)
    if not clip:
        return noisy.round_().clamp_(-255, 510).to(torch.int16)
    return noisy.round_().clamp_(0, 255).to(torch.uint8)


def add_noise(clean: torch.Tensor, sigma, generator: torch.Generator, clip: bool = True) -> torch.Tensor:
    """One fresh noisy draw of a uint8 batch; ``sigma`` and ``clip`` as in :func:`noisy_version`."""
    out = torch.empty(clean.shape, dtype=torch.uint8 if clip else torch.int16)
    for start in range(0, len(clean), _NOISE_BLOCK):
        block = clean[start:start + _NOISE_BLOCK]
        z = torch.randn(block.shape, generator=generator)
        block_sigma = sigma[start:start + _NOISE_BLOCK] if isinstance(sigma, torch.Tensor) else sigma
        out[start:start + _NOISE_BLOCK] = noisy_version(block, block_sigma, z, clip)
    return out


def fresh_pairs(clean: torch.Tensor, sigma_range, unclipped_targets: bool, seed: int, epoch: int,
                device, noise: str = "gaussian") -> tuple[torch.Tensor, torch.Tensor]:
    """Epoch ``epoch``'s Noise2Noise pairs of the clean uint8 pictures, on ``device``.

    Each picture gets its own sigma, uniform in ``sigma_range``, shared by its two
    independent draws; the input is clipped uint8, the target float (unclipped values if
    ``unclipped_targets``, else clipped). The draws depend only on ``seed``, ``epoch`` and
    the device's random generator. ``noise`` "camera" or "mixture" draws the pairs of
    :func:`camera.mixture_pairs` instead, on the CPU (JPEG is Pillow's).
    """
    lo, hi = sigma_range
    state = np.random.SeedSequence([seed % 2 ** 64, epoch]).generate_state(1, np.uint64)[0]
    if noise != "gaussian":
        generator = torch.Generator().manual_seed(int(state))
        sigma = torch.rand(len(clean), generator=generator).mul_(hi - lo).add_(lo)
        pairs = [mixture_pairs(clean[start:start + _NOISE_BLOCK].cpu(), sigma[start:start + _NOISE_BLOCK],
                               generator, unclipped_targets, noise)[:2]
                 for start in range(0, len(clean), _NOISE_BLOCK)]
        return tuple(torch.cat(part).to(device) for part in zip(*pairs))
    generator = torch.Generator(device=device).manual_seed(int(state))
    sigma = torch.rand(len(clean), generator=generator, device=device).mul_(hi - lo).add_(lo)
    noisy_a = torch.empty(clean.shape, dtype=torch.uint8, device=device)
    noisy_b = torch.empty(clean.shape, dtype=torch.float32, device=device)
    for start in range(0, len(clean), _NOISE_BLOCK):
        block = clean[start:start + _NOISE_BLOCK].to(device)
        block_sigma = sigma[start:start + _NOISE_BLOCK]
        for out, clip in ((noisy_a, True), (noisy_b, not unclipped_targets)):
            z = torch.randn(block.shape, generator=generator, device=device)
            out[start:start + _NOISE_BLOCK] = noisy_version(block, block_sigma, z, clip)
    return noisy_a, noisy_b


def check_augment(kinds) -> list[str]:
    """The augmentation names, sorted; an unknown one raises ValueError."""
    unknown = sorted(set(kinds) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; known: {', '.join(AUGMENTATIONS)}")
    return sorted(set(kinds))


def augment_colours(clean: torch.Tensor, kinds, generator: torch.Generator) -> torch.Tensor:
    """The colour augmentations ``kinds`` (see the module docstring) of a uint8 batch."""
    check_augment(kinds)
    out = clean
    if "channels" in kinds:
        orders = torch.rand(len(clean), 3, generator=generator).argsort(dim=1)
        out = out.gather(1, orders.view(-1, 3, 1, 1).expand_as(out))
    low = math.log(GAIN_LOW)
    for kind in ("gain", "exposure"):
        if kind in kinds:
            high = torch.zeros(len(clean), 3, 1, 1)
            if kind == "exposure":
                brightest = out.amax((2, 3), keepdim=True).float().clamp_(min=1)
                high = (255 / brightest).log_().clamp_(max=-low)
            gains = torch.rand(len(clean), 3, 1, 1, generator=generator).mul_(high - low).add_(low).exp_()
            out = out.float().mul_(gains).round_().clamp_(max=255).to(torch.uint8)
    return out


def input_psnr(noisy: torch.Tensor, clean: torch.Tensor) -> float:
    return psnr(noisy.float() / 255, clean.float() / 255)


def noiseless_note(noisy: torch.Tensor, clean: torch.Tensor) -> str:
    """Why a set's input PSNR is infinite, or "": pictures drawn at a noise level near 0
    can round back to the clean picture, and one infinite PSNR makes the mean infinite."""
    same = int((noisy == clean).flatten(1).all(1).sum())
    return (f" ({same} of {len(noisy)} pictures carry no noise, so the mean input PSNR and the "
            "gain over it are infinite)") if same else ""


def calibrate_sigma(clean: torch.Tensor, z: torch.Tensor, target: float = TARGET_PSNR,
                    tol: float = 1e-4) -> float:
    """Bisection for the sigma at which the input PSNR of ``clean`` with noise ``z`` is ``target``.

    With z held fixed every pixel's error grows with sigma, so the PSNR falls
    monotonically and bisection is safe.
    """
    lo, hi = 0.0, 255.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if input_psnr(noisy_version(clean, mid, z), clean) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _torch_generator(seed: np.random.SeedSequence) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed.generate_state(1, np.uint64)[0]))


@dataclass
class BuildReport:
    sigma: float
    val_input_psnr: float
    seconds: float
    n_train: int
    n_val: int
    size: int
    seed: int
    train_photos: list[str]
    val_photos: list[str]
    skipped_photos: list[str] = field(default_factory=list)
    duplicate_photos: list[str] = field(default_factory=list)
    train_sigma_range: list[float] | None = None
    augment: list[str] = field(default_factory=list)
    unclipped_targets: bool = False
    fresh_noise: bool = False
    train_noise: str = "gaussian"
    noise_model: str = "noisy = clip(round(clean + sigma * N(0,1)), 0, 255) on the 0-255 scale"


def check_sigma_range(sigma_range) -> tuple[float, float] | None:
    if sigma_range is None:
        return None
    lo, hi = (float(v) for v in sigma_range)
    if not 0 <= lo <= hi <= 255:
        raise ValueError(f"--sigma-range must be two numbers 0 <= LO <= HI <= 255, got {lo:g} {hi:g}")
    return lo, hi


def build(out, photos=None, n_train: int = 50_000, n_val: int = 1_000, size: int = 32,
          seed: int = 0, target_psnr: float = TARGET_PSNR, extra_train=(), sigma_range=None,
          augment=(), unclipped_targets: bool = False, fresh_noise: bool = False,
          noise: str = "gaussian", log: Callable[[str], None] = lambda message: None) -> BuildReport:
    """Write ``train_data.pkl`` (``train_clean.pkl`` with ``fresh_noise``), ``val_data.pkl``
    and ``build.json`` into ``out``.

    ``photos`` is a folder of the user's photos, or None for the bundled ones;
    ``extra_train`` folders add training photos; ``sigma_range``, ``augment``,
    ``unclipped_targets``, ``fresh_noise`` and ``noise`` are described in the module docstring.
    """
    if n_train < 1 or n_val < 1:
        raise ValueError("--n-train and --n-val must be at least 1")
    if size < 1:
        raise ValueError("--size must be at least 1")
    sigma_range = check_sigma_range(sigma_range)
    if fresh_noise and sigma_range is None:
        raise ValueError("--fresh-noise needs --sigma-range: the noise levels to draw each epoch")
    if noise not in NOISE_KINDS:
        raise ValueError(f"unknown noise {noise!r}; known: {', '.join(NOISE_KINDS)}")
    if noise != "gaussian" and not fresh_noise:
        raise ValueError(f"--noise {noise} needs --fresh-noise: its pairs are drawn each epoch")
    augment = check_augment(augment)
    started = time.perf_counter()
    if photos is None:
        train_photos, val_photos = bundled_split()
        root = bundled_photo_dir()
    else:
        root = Path(photos)
        train_photos, val_photos = split_photos(find_photos(root), root)
    for folder in extra_train:
        train_photos = train_photos + find_photos(folder)
    train_photos, small_train = _usable(train_photos, size)
    val_photos, small_val = _usable(val_photos, size)
    skipped = small_train + small_val
    unique, duplicates = drop_near_duplicates(train_photos + val_photos)
    train_photos = [p for p in train_photos if p in unique]
    val_photos = [p for p in val_photos if p in unique]
    if not train_photos or not val_photos:
        raise ValueError(f"{root}: no {'training' if not train_photos else 'validation'} "
                         f"photo is usable (a short side of at least {size} px, not a near-duplicate)")

    # Spawned children depend only on their index: the first three are those of
    # builds made before sigma ranges and augmentation existed.
    (crops_seed, train_noise_seed, val_noise_seed,
     augment_seed, sigma_seed) = np.random.SeedSequence(seed).spawn(5)
    train_crops_seed, val_crops_seed = crops_seed.spawn(2)
    log(f"cutting {n_train} training pictures from {len(train_photos)} photos "
        f"and {n_val} validation pictures from {len(val_photos)} photos")
    train_clean = clean_pictures(train_photos, n_train, size, train_crops_seed)
    val_clean = clean_pictures(val_photos, n_val, size, val_crops_seed)

    val_z = torch.randn(val_clean.shape, generator=_torch_generator(val_noise_seed))
    sigma = calibrate_sigma(val_clean, val_z, target_psnr)
    if noise == "gaussian":
        val_noisy = noisy_version(val_clean, sigma, val_z)
    else:
        generator = _torch_generator(val_noise_seed)
        val_sigma = torch.rand(n_val, generator=generator).mul_(sigma_range[1] - sigma_range[0]).add_(sigma_range[0])
        val_noisy, _, reference = mixture_pairs(val_clean, val_sigma, generator, True, noise)
        val_clean = reference.round().clamp(0, 255).to(torch.uint8)
    val_psnr = input_psnr(val_noisy, val_clean)
    if noise == "gaussian":
        log(f"noise sigma {sigma:.3f} (0-255 scale) gives a validation input PSNR of {val_psnr:.2f} dB")
    else:
        log(f"validation noise: {noise}, sigma per picture in [{sigma_range[0]:g}, {sigma_range[1]:g}] for "
            f"its Gaussian and grey pictures: input PSNR {val_psnr:.2f} dB")

    if augment:
        train_clean = augment_colours(train_clean, augment, _torch_generator(augment_seed))
        log(f"colour augmentation of the training pictures: {', '.join(augment)}")
    out = Path(out)
    if fresh_noise:
        log(f"training noise: {noise}, drawn afresh each epoch by n2n train, sigma per picture uniformly "
            f"in [{sigma_range[0]:g}, {sigma_range[1]:g}]")
        out.mkdir(parents=True, exist_ok=True)
        save_tensors(train_clean, out / TRAIN_CLEAN_FILE)
    else:
        train_sigma = sigma
        if sigma_range is not None:
            lo, hi = sigma_range
            draw = torch.rand(n_train, generator=_torch_generator(sigma_seed), dtype=torch.float64)
            train_sigma = draw.mul_(hi - lo).add_(lo).float()
            log(f"training noise: sigma drawn per picture, uniformly in [{lo:g}, {hi:g}]")
        generator = _torch_generator(train_noise_seed)
        noisy_a = add_noise(train_clean, train_sigma, generator)
        noisy_b = add_noise(train_clean, train_sigma, generator, clip=not unclipped_targets)
        out.mkdir(parents=True, exist_ok=True)
        save_pairs(out / TRAIN_FILE, noisy_a, noisy_b)
    save_pairs(out / VAL_FILE, val_noisy, val_clean)
    report = BuildReport(
        sigma=sigma, val_input_psnr=val_psnr, seconds=time.perf_counter() - started,
        n_train=n_train, n_val=n_val, size=size, seed=seed,
        train_photos=[str(p) for p in train_photos], val_photos=[str(p) for p in val_photos],
        skipped_photos=[str(p) for p in skipped], duplicate_photos=duplicates,
        train_sigma_range=list(sigma_range) if sigma_range else None, augment=augment,
        unclipped_targets=unclipped_targets, fresh_noise=fresh_noise, train_noise=noise)
    (out / INFO_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report


@dataclass
class TestsetReport:
    n: int
    size: int
    seed: int
    seconds: float
    photos: list[str]
    skipped_photos: list[str] = field(default_factory=list)
    duplicate_photos: list[str] = field(default_factory=list)


def build_testset(out, photos, n: int = 2_000, size: int = 32, seed: int = 0,
                  log: Callable[[str], None] = lambda message: None) -> TestsetReport:
    """Write ``test_clean.pkl`` (``n`` clean crops of every photo below ``photos``) and ``build.json``."""
    if n < 1 or size < 1:
        raise ValueError("--n and --size must be at least 1")
    started = time.perf_counter()
    usable, small = _usable(find_photos(photos), size)
    usable, duplicates = drop_near_duplicates(usable)
    if not usable:
        raise ValueError(f"{photos}: no PNG/JPEG photo with a short side of at least {size} px")
    log(f"cutting {n} test pictures from {len(usable)} photos")
    clean = clean_pictures(usable, n, size, np.random.SeedSequence(seed))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_tensors(clean, out / TEST_FILE)
    report = TestsetReport(n=n, size=size, seed=seed, seconds=time.perf_counter() - started,
                           photos=[str(p) for p in usable], skipped_photos=[str(p) for p in small],
                           duplicate_photos=duplicates)
    (out / INFO_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report
