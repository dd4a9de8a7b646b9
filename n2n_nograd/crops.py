"""Clean pictures cut from photographs, the way the course's pictures were made.

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
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")

BUNDLED_TRAIN = ("astronaut.png", "motorcycle_left.png", "motorcycle_right.png",
                 "rocket.jpg", "hubble_deep_field.jpg", "ihc.png", "retina.jpg")
BUNDLED_VAL = ("chelsea.png", "coffee.png")

#: Mean absolute difference (0-255) of 16x16 thumbnails under which two photos are one.
NEAR_DUPLICATE = 4.0

# See _crops: output pixels cover at least this many pyramid pixels per side.
_MIN_COVER = 4


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


def usable_photos(photos: list[Path], size: int) -> tuple[list[Path], list[Path]]:
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
