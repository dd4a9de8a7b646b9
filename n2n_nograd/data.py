"""Noise2Noise data sets: the course's file format, a loader that checks it, and a builder that
makes look-alike sets from photographs (the pictures: ``crops.py``; their noise: ``noise.py``).

File format (as handed out for EE-559 Miniproject 2)
----------------------------------------------------
``train_data.pkl``  tuple ``(noisy_a, noisy_b)``: two independent noisy
                    versions of the same pictures.
``val_data.pkl``    tuple ``(noisy, clean)``.
Each element is a ``torch.uint8`` tensor of shape (N, 3, H, W) written with
``torch.save``.  The course files hold 50,000 and 1,000 pictures of 32x32.

Test sets (:func:`build_testset`) hold clean pictures only, cut the same way
from photos of a source used nowhere else; the noise is added at evaluation
time, at each noise level asked for.

The result is fully determined by the seed (and the photos).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from Miniproject_2.others.plumbing.checkpoint import save_tensors

from .camera import NOISE_KINDS, CameraSettings, mixture_pairs
from .crops import (bundled_photo_dir, bundled_split, clean_pictures, drop_near_duplicates, find_photos,
                    split_photos, usable_photos)
from .noise import (TARGET_PSNR, add_noise, augment_colours, calibrate_sigma, check_augment, check_sigma_range,
                    input_psnr, noisy_version)

TRAIN_FILE = "train_data.pkl"
VAL_FILE = "val_data.pkl"
TEST_FILE = "test_clean.pkl"
TRAIN_CLEAN_FILE = "train_clean.pkl"
INFO_FILE = "build.json"

_NAMES = {"train": ("noisy_a", "noisy_b"), "val": ("noisy", "clean")}


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
        # The training target may be unclipped int16 (unclipped targets, see :mod:`.noise`).
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
    camera: dict | None = None
    noise_model: str = "noisy = clip(round(clean + sigma * N(0,1)), 0, 255) on the 0-255 scale"


def build(out, photos=None, n_train: int = 50_000, n_val: int = 1_000, size: int = 32,
          seed: int = 0, target_psnr: float = TARGET_PSNR, extra_train=(), sigma_range=None,
          augment=(), unclipped_targets: bool = False, fresh_noise: bool = False,
          noise: str = "gaussian", camera: CameraSettings | None = None,
          log: Callable[[str], None] = lambda message: None) -> BuildReport:
    """Write ``train_data.pkl`` (``train_clean.pkl`` with ``fresh_noise``), ``val_data.pkl``
    and ``build.json`` into ``out``.

    ``photos`` is a folder of the user's photos, or None for the bundled ones;
    ``extra_train`` folders add training photos; ``sigma_range``, ``augment``,
    ``unclipped_targets``, ``fresh_noise`` and ``noise`` are described in :mod:`.noise`; the photos in
    :mod:`.crops`; ``camera``, the camera pictures' settings of a noise other than "gaussian", in
    :class:`.camera.CameraSettings` (None: the defaults).
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
    if noise == "gaussian" and camera is not None:
        raise ValueError("--shot-range and --soften set camera noise: they need --noise camera or a mixture")
    camera = camera or CameraSettings()
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
    train_photos, small_train = usable_photos(train_photos, size)
    val_photos, small_val = usable_photos(val_photos, size)
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
        val_noisy, _, reference = mixture_pairs(val_clean, val_sigma, generator, True, noise, camera)
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
        camera_note = "" if noise == "gaussian" else f"; {camera.describe()}"
        log(f"training noise: {noise}, drawn afresh each epoch by n2n train, sigma per picture uniformly "
            f"in [{sigma_range[0]:g}, {sigma_range[1]:g}]{camera_note}")
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
        unclipped_targets=unclipped_targets, fresh_noise=fresh_noise, train_noise=noise,
        camera=None if noise == "gaussian" else asdict(camera))
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
    usable, small = usable_photos(find_photos(photos), size)
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
