"""Denoising quality on real camera noise: pairs of a real noisy photo and its ground truth.

Two folder layouts are read (evaluation only; such sets are never training data):

PolyU      ``NAME_real.EXT`` (one shot) beside ``NAME_mean.EXT`` (the mean of many shots of the
           same static scene); the camera is the name's first ``_``-separated field
           (``Canon5D2_5_160_3200_chair_11`` -> ``Canon5D2``).
plain      ``noisy/NAME.EXT`` and ``clean/NAME.EXT``, paired by NAME (the suffixes may differ);
           a subfolder of ``noisy/`` names the camera (``noisy/phone/a.png``), else ``-``.

Every picture is evaluated whole. Per denoiser, overall and per camera: the input's and the
output's PSNR (peak 255, the mean of per-picture PSNRs as the grader computes it), the gain,
the share of pictures made worse, the worst gain, the colour shift (mean over pictures and
channels of |mean of the output channel - mean of the clean one|, 0-255 levels) and the time
per megapixel.

Baselines: non-local means (blind, as in ``baselines.py``); BM3D told the noise level that
scikit-image estimates from each picture (white-noise wavelet estimate, which real, correlated
noise fools); and BM3D with the one level that is best on average, a fair classical anchor:
each picture gets the level of a grid (:data:`BM3D_GRID`) that is best on the *other* half
of the pictures (halves by sorted name, alternating), so no picture chooses its own.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .crops import PHOTO_SUFFIXES
from .denoise import read_picture
from .psnr import psnr_per_image

#: BM3D levels (0-255) from which the best fixed level is chosen.
BM3D_GRID = (5.0, 8.0, 11.0, 14.0, 18.0, 24.0)
SUFFIXES = PHOTO_SUFFIXES + (".tif", ".tiff", ".bmp")


@dataclass
class RealPair:
    name: str
    camera: str
    noisy: Path
    clean: Path


def _pictures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def find_pairs(folder) -> list[RealPair]:
    """The noisy/clean pairs of ``folder`` in either layout (module docstring), sorted by name;
    ``ValueError`` if it holds none or a picture lacks its partner."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    if (folder / "noisy").is_dir() and (folder / "clean").is_dir():
        clean = {p.relative_to(folder / "clean").with_suffix("").as_posix(): p for p in _pictures(folder / "clean")}
        pairs = []
        for noisy in _pictures(folder / "noisy"):
            key = noisy.relative_to(folder / "noisy").with_suffix("").as_posix()
            if key not in clean:
                raise ValueError(f"{noisy}: no clean picture {key}.* in {folder / 'clean'}")
            camera = key.split("/")[0] if "/" in key else "-"
            pairs.append(RealPair(key, camera, noisy, clean[key]))
    else:
        pictures = _pictures(folder)
        means = {p.stem[:-len("_mean")]: p for p in pictures if p.stem.lower().endswith("_mean")}
        pairs = []
        for noisy in pictures:
            if not noisy.stem.lower().endswith("_real"):
                continue
            name = noisy.stem[:-len("_real")]
            if name not in means:
                raise ValueError(f"{noisy}: no ground truth {name}_mean.* beside it")
            pairs.append(RealPair(name, name.split("_")[0], noisy, means[name]))
    if not pairs:
        raise ValueError(f"{folder}: no pairs of real noisy pictures and ground truth (PolyU's "
                         "NAME_real.* / NAME_mean.*, or noisy/NAME.* and clean/NAME.*)")
    return sorted(pairs, key=lambda pair: pair.name)


def load_pair(pair: RealPair) -> tuple[torch.Tensor, torch.Tensor]:
    """The pair's (noisy, clean) uint8 (1, 3, H, W) pictures; ``ValueError`` if their sizes differ."""
    noisy, clean = read_picture(pair.noisy), read_picture(pair.clean)
    if noisy.shape != clean.shape:
        raise ValueError(f"{pair.noisy}: {tuple(noisy.shape[2:])} pixels, its ground truth "
                         f"{pair.clean} {tuple(clean.shape[2:])}")
    return noisy, clean


#: A denoiser of one real picture: uint8 (1, 3, H, W) -> floats in [0, 255].
Denoiser = Callable[[torch.Tensor], torch.Tensor]


def measure(denoiser: Denoiser, pictures: list[tuple[torch.Tensor, torch.Tensor]]) -> dict:
    """Per-picture numbers of ``denoiser``: input and output PSNR, colour shift, seconds."""
    rows = {"input_psnr": [], "psnr": [], "colour_shift": [], "seconds": [], "megapixels": []}
    for noisy, clean in pictures:
        started = time.perf_counter()
        out = denoiser(noisy).float().clamp(0, 255)
        rows["seconds"].append(time.perf_counter() - started)
        target = clean.float() / 255
        rows["input_psnr"].append(psnr_per_image(noisy.float() / 255, target).item())
        rows["psnr"].append(psnr_per_image(out / 255, target).item())
        rows["colour_shift"].append((out.mean((2, 3)) - clean.float().mean((2, 3))).abs().mean().item())
        rows["megapixels"].append(noisy.shape[2] * noisy.shape[3] / 1e6)
    return rows


def summary(rows: dict, index=None) -> dict:
    """Overall numbers of per-picture ``rows`` (of the pictures ``index``, default all)."""
    pick = (lambda key: np.asarray(rows[key])) if index is None else (lambda key: np.asarray(rows[key])[index])
    gain = pick("psnr") - pick("input_psnr")
    return {"n": len(gain), "input_psnr": float(pick("input_psnr").mean()), "psnr": float(pick("psnr").mean()),
            "gain": float(gain.mean()), "worse": float((gain < 0).mean()), "worst_gain": float(gain.min()),
            "colour_shift": float(pick("colour_shift").mean()),
            "seconds_per_mp": float(pick("seconds").sum() / pick("megapixels").sum())}


def cross_fitted_level(scores: dict[float, list[float]]) -> tuple[list[float], list[float]]:
    """For per-picture PSNRs at each level of a grid, each picture's PSNR at the level that is best
    on average over the other half of the pictures (halves: even and odd positions); returns
    those PSNRs and the levels chosen."""
    levels = sorted(scores)
    table = np.asarray([scores[level] for level in levels])
    halves = [np.arange(table.shape[1]) % 2 == h for h in (0, 1)]
    chosen_psnr, chosen_level = np.empty(table.shape[1]), np.empty(table.shape[1])
    for half, other in ((halves[0], halves[1]), (halves[1], halves[0])):
        best = int(table[:, other].mean(1).argmax()) if other.any() else int(table[:, half].mean(1).argmax())
        chosen_psnr[half], chosen_level[half] = table[best, half], levels[best]
    return chosen_psnr.tolist(), chosen_level.tolist()


HEADER = (f"{'denoiser':<44}{'camera':<11}{'n':>4}{'input':>8}{'output':>8}{'gain':>7}"
          f"{'worse':>7}{'worst':>7}{'colour':>7}{'s/MP':>7}")


def format_row(label: str, camera: str, numbers: dict) -> str:
    return (f"{label:<44}{camera:<11}{numbers['n']:>4}{numbers['input_psnr']:>8.2f}{numbers['psnr']:>8.2f}"
            f"{numbers['gain']:>+7.2f}{100 * numbers['worse']:>6.0f}%{numbers['worst_gain']:>+7.2f}"
            f"{numbers['colour_shift']:>7.2f}{numbers['seconds_per_mp']:>7.2f}")


def evaluate(pairs: list[RealPair], denoisers: dict[str, Denoiser], bm3d_pictures: int = 0,
             log: Callable[[str], None] = print, bm3d_levels: tuple[float, ...] = BM3D_GRID) -> dict:
    """Every denoiser on every pair (BM3D's two rows on ``bm3d_pictures`` of them, spread evenly
    over the sorted names, when not 0); prints the table and returns its numbers. ``bm3d_levels``:
    the grid of BM3D's fixed level; a single level (one chosen beforehand, e.g. on another
    subset) is the only BM3D row, run as it is and named after it."""
    pictures = [load_pair(pair) for pair in pairs]
    cameras = sorted({pair.camera for pair in pairs})
    results = {"pictures": [pair.name for pair in pairs], "cameras": [pair.camera for pair in pairs],
               "denoisers": {}}

    def report(label: str, rows: dict, names: list[str]) -> None:
        picked = [pair.camera for pair in pairs if pair.name in set(names)]
        entry = {"overall": summary(rows), "per_camera": {}, "pictures": names, "rows": rows}
        log(format_row(label, "all", entry["overall"]))
        for camera in cameras:
            index = [i for i, c in enumerate(picked) if c == camera]
            if index and len(cameras) > 1:
                entry["per_camera"][camera] = summary(rows, index)
                log(format_row("", camera, entry["per_camera"][camera]))
        results["denoisers"][label] = entry

    log(HEADER)
    names = [pair.name for pair in pairs]
    for label, denoiser in denoisers.items():
        report(label, measure(denoiser, pictures), names)
    if bm3d_pictures:
        from .baselines import bm3d
        from skimage.restoration import estimate_sigma

        step = max(1, len(pairs) // bm3d_pictures)
        subset = list(range(0, len(pairs), step))[:bm3d_pictures]
        chosen = [pictures[i] for i in subset]
        chosen_names = [names[i] for i in subset]

        if len(bm3d_levels) == 1:
            level = bm3d_levels[0]
            report(f"BM3D (sigma {level:g} for every picture)", measure(lambda noisy: bm3d(noisy, level), chosen),
                   chosen_names)
            results["bm3d_levels"] = dict.fromkeys(chosen_names, level)
            return results

        def estimated(noisy):
            picture = noisy[0].permute(1, 2, 0).numpy().astype(np.float64) / 255
            return bm3d(noisy, 255 * float(np.mean(estimate_sigma(picture, channel_axis=-1))))

        report("BM3D (sigma estimated per picture)", measure(estimated, chosen), chosen_names)
        grid = {level: measure(lambda noisy, level=level: bm3d(noisy, level), chosen) for level in bm3d_levels}
        rows = dict(grid[bm3d_levels[0]])
        rows["psnr"], levels = cross_fitted_level({level: grid[level]["psnr"] for level in bm3d_levels})
        rows["colour_shift"] = [grid[level]["colour_shift"][i] for i, level in enumerate(levels)]
        rows["seconds"] = [grid[level]["seconds"][i] for i, level in enumerate(levels)]
        report("BM3D (best fixed sigma, other half)", rows, chosen_names)
        results["bm3d_levels"] = {name: level for name, level in zip(chosen_names, levels)}
        log(f"BM3D's best fixed sigma: {sorted(set(levels))} (chosen on the other half of "
            f"{len(subset)} pictures, grid {', '.join(f'{g:g}' for g in bm3d_levels)})")
    return results


def pixel_shuffled(denoiser: Denoiser, factor: int) -> Denoiser:
    """``denoiser`` run on the ``factor`` x ``factor`` sub-images of a picture (every
    ``factor``-th pixel), then woven back: neighbouring pixels' correlated noise lands in
    different sub-images, where it looks white. Sides are cut to multiples of ``factor`` and
    the cut border is taken from the denoiser run on the whole picture."""
    def run(noisy: torch.Tensor) -> torch.Tensor:
        _, c, h, w = noisy.shape
        hh, ww = h // factor * factor, w // factor * factor
        out = denoiser(noisy).float() if (hh, ww) != (h, w) else torch.empty(noisy.shape)
        core = noisy[:, :, :hh, :ww].reshape(c, hh // factor, factor, ww // factor, factor)
        subs = core.permute(2, 4, 0, 1, 3).reshape(factor * factor, c, hh // factor, ww // factor)
        denoised = torch.cat([denoiser(sub[None]).float() for sub in subs])
        woven = denoised.reshape(factor, factor, c, hh // factor, ww // factor).permute(2, 3, 0, 4, 1)
        out[:, :, :hh, :ww] = woven.reshape(1, c, hh, ww)
        return out
    return run
