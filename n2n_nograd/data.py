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

Own photos (``photos=DIR``): every PNG/JPEG below DIR, searched recursively,
converted to RGB (grayscale is copied to three channels, alpha is dropped,
EXIF rotation is applied).  Photos are split, never crops: photos are ordered
by the SHA-1 of their path relative to DIR and the first fifth (at least one)
go to validation.  That split depends only on the file names, not on the seed,
and adding photos never moves an existing photo to the other side.  Photos
whose short side is below ``size`` are skipped.

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

The result is fully determined by the seed (and the photos).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from Miniproject_2.others.checkpoint import save_tensors

from .psnr import psnr

TRAIN_FILE = "train_data.pkl"
VAL_FILE = "val_data.pkl"
INFO_FILE = "build.json"
TARGET_PSNR = 20.7
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")

_NAMES = {"train": ("noisy_a", "noisy_b"), "val": ("noisy", "clean")}

BUNDLED_TRAIN = ("astronaut.png", "motorcycle_left.png", "motorcycle_right.png",
                 "rocket.jpg", "hubble_deep_field.jpg", "ihc.png", "retina.jpg")
BUNDLED_VAL = ("chelsea.png", "coffee.png")

# Noise is drawn in blocks of this many pictures: it bounds the float32
# scratch memory, and keeping it fixed keeps the random stream reproducible.
_NOISE_BLOCK = 4096

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
    path = Path(path)
    expected = f"a tuple ({names[0]}, {names[1]}) of two uint8 tensors (N, 3, H, W)"
    if not path.exists():
        raise ValueError(f"{path}: file not found (expected {expected})")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory, not a {kind} data file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for damaged files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: cannot be read by torch.load ({first_line})") from exc
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2
            and all(isinstance(t, torch.Tensor) for t in obj)):
        raise ValueError(f"{path}: holds {_describe(obj)}, expected {expected}")
    for name, tensor in zip(names, obj):
        if tensor.dtype != torch.uint8:
            raise ValueError(f"{path}: {name} has dtype {tensor.dtype}, expected torch.uint8")
        if tensor.ndim != 4:
            raise ValueError(f"{path}: {name} has shape {tuple(tensor.shape)}, "
                             "expected 4 dimensions (N, 3, H, W)")
        if tensor.shape[1] != 3:
            raise ValueError(f"{path}: {name} has {tensor.shape[1]} channels "
                             f"(shape {tuple(tensor.shape)}), expected 3")
    a, b = obj
    if a.shape != b.shape:
        raise ValueError(f"{path}: {names[0]} has shape {tuple(a.shape)} but "
                         f"{names[1]} has shape {tuple(b.shape)}")
    if a.shape[0] == 0:
        raise ValueError(f"{path}: holds no pictures (N = 0)")
    return a, b


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


def noisy_version(clean: torch.Tensor, sigma: float, z: torch.Tensor) -> torch.Tensor:
    """The noise model, for a given standard-normal draw ``z`` of the same shape."""
    return torch.add(clean, z, alpha=sigma).round_().clamp_(0, 255).to(torch.uint8)


def add_noise(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """One fresh noisy draw of a uint8 batch."""
    out = torch.empty_like(clean)
    for start in range(0, len(clean), _NOISE_BLOCK):
        block = clean[start:start + _NOISE_BLOCK]
        z = torch.randn(block.shape, generator=generator)
        out[start:start + _NOISE_BLOCK] = noisy_version(block, sigma, z)
    return out


def input_psnr(noisy: torch.Tensor, clean: torch.Tensor) -> float:
    return psnr(noisy.float() / 255, clean.float() / 255)


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
    noise_model: str = "noisy = clip(round(clean + sigma * N(0,1)), 0, 255) on the 0-255 scale"


def build(out, photos=None, n_train: int = 50_000, n_val: int = 1_000, size: int = 32,
          seed: int = 0, target_psnr: float = TARGET_PSNR,
          log: Callable[[str], None] = lambda message: None) -> BuildReport:
    """Write ``train_data.pkl``, ``val_data.pkl`` and ``build.json`` into ``out``.

    ``photos`` is a folder of the user's photos, or None for the bundled ones.
    """
    if n_train < 1 or n_val < 1:
        raise ValueError("--n-train and --n-val must be at least 1")
    if size < 1:
        raise ValueError("--size must be at least 1")
    started = time.perf_counter()
    if photos is None:
        train_photos, val_photos = bundled_split()
        root = bundled_photo_dir()
    else:
        root = Path(photos)
        train_photos, val_photos = split_photos(find_photos(root), root)
    train_photos, small_train = _usable(train_photos, size)
    val_photos, small_val = _usable(val_photos, size)
    skipped = small_train + small_val
    if not train_photos or not val_photos:
        raise ValueError(f"{root}: no {'training' if not train_photos else 'validation'} "
                         f"photo has a short side of at least {size} px")

    crops_seed, train_noise_seed, val_noise_seed = np.random.SeedSequence(seed).spawn(3)
    train_crops_seed, val_crops_seed = crops_seed.spawn(2)
    log(f"cutting {n_train} training pictures from {len(train_photos)} photos "
        f"and {n_val} validation pictures from {len(val_photos)} photos")
    train_clean = clean_pictures(train_photos, n_train, size, train_crops_seed)
    val_clean = clean_pictures(val_photos, n_val, size, val_crops_seed)

    val_z = torch.randn(val_clean.shape, generator=_torch_generator(val_noise_seed))
    sigma = calibrate_sigma(val_clean, val_z, target_psnr)
    val_noisy = noisy_version(val_clean, sigma, val_z)
    val_psnr = input_psnr(val_noisy, val_clean)
    log(f"noise sigma {sigma:.3f} (0-255 scale) gives a validation input PSNR of {val_psnr:.2f} dB")

    generator = _torch_generator(train_noise_seed)
    noisy_a = add_noise(train_clean, sigma, generator)
    noisy_b = add_noise(train_clean, sigma, generator)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_pairs(out / TRAIN_FILE, noisy_a, noisy_b)
    save_pairs(out / VAL_FILE, val_noisy, val_clean)
    report = BuildReport(
        sigma=sigma, val_input_psnr=val_psnr, seconds=time.perf_counter() - started,
        n_train=n_train, n_val=n_val, size=size, seed=seed,
        train_photos=[str(p) for p in train_photos], val_photos=[str(p) for p in val_photos],
        skipped_photos=[str(p) for p in skipped])
    (out / INFO_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report
