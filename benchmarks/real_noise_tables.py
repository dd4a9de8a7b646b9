"""The tables of docs/real-noise.md, from the JSON files that the commands beside them write.

    python benchmarks/real_noise_tables.py [--results results]   # prints the nine tables

Real camera noise per camera (``results/real_noise/polyu_camera.json`` and
``polyu_baselines.json``), the strength settings on PolyU (``polyu_auto.json``, ``polyu_camera.json``,
``polyu_camera_strength.json`` and ``polyu_camera_ensemble8_strength.json``), BM3D on every PolyU
picture beside them (``polyu_bm3d_all.json``), the strengths on white,
JPEG'd and grey pictures (``real_noise/camera_noise_strength.json``), the deep and camera
models on JPEG'd and grey pictures (``results/camera_noise.json``), ``predict`` with and without its blend and colour
check on real noise (the same file), and white noise on the unseen pictures
(``results/quality.json``'s deep model, ``real_noise/camera_white.json``,
``real_noise/auto_white.json``), and what strength auto does to pictures without a camera's noise
(``real_noise/auto_strength.json``). A test checks that the page holds each table as printed here.
"""
import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAMERA = "nograd committed camera"
#: The strength quoted beside BM3D: the best on either half of PolyU (docs/real-noise.md).
STRENGTH = 2
DEEP = "nograd committed deep"
#: ``n2n denoise``'s default: the auto route at strength auto.
AUTO = "nograd committed auto strength auto"
NLM = "non-local means (scikit-image, blind sigma)"
OURS_DEEP = "ours, deep (bestmodel_deep.pkl)"


def _read(results: Path, name: str) -> dict:
    return json.loads((results / name).read_text())


def _gain(numbers: dict) -> str:
    return f"{numbers['psnr']:.2f} ({numbers['gain']:+.2f})"


def polyu(results: Path) -> str:
    """Per camera: input, deep model, camera model (made worse, worst gain, colour shift), non-local means."""
    camera = _read(results, "real_noise/polyu_camera.json")["denoisers"][CAMERA]
    baselines = _read(results, "real_noise/polyu_baselines.json")["denoisers"]
    lines = ["| camera | pictures | input | deep model | camera model | made worse | worst gain | colour shift | "
             "non-local means |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in ["all", *camera["per_camera"]]:
        pick = (lambda entry: entry["overall"]) if name == "all" else (lambda entry: entry["per_camera"][name])
        ours, deep, nlm = pick(camera), pick(baselines[DEEP]), pick(baselines[NLM])
        lines.append(f"| {name} | {ours['n']} | {ours['input_psnr']:.2f} | {_gain(deep)} | **{_gain(ours)}** | "
                     f"{100 * ours['worse']:.0f}% | {ours['worst_gain']:+.2f} | {ours['colour_shift']:.2f} | "
                     f"{_gain(nlm)} |")
    return "\n".join(lines)


def _halves(entry: dict) -> str:
    """The mean gain on the pictures of even and of odd rank by name."""
    rows = entry["rows"]
    gains = [out - noisy for out, noisy in zip(rows["psnr"], rows["input_psnr"])]
    return " / ".join(f"{sum(half) / len(half):+.2f}" for half in (gains[::2], gains[1::2]))


def strength(results: Path) -> str:
    """The camera model's PolyU gain at ``n2n denoise``'s default (auto), at 1, at 0.7, at strengths above 1 and with
    the mean over 8 flips/rotations; each also on the two halves of the set."""
    runs = _read(results, "real_noise/polyu_camera.json")["denoisers"]
    stronger = _read(results, "real_noise/polyu_camera_strength.json")["denoisers"]
    ensemble = _read(results, "real_noise/polyu_camera_ensemble8_strength.json")["denoisers"]
    auto = _read(results, "real_noise/polyu_auto.json")["denoisers"][AUTO]
    rows = [("auto, `n2n denoise`'s default (the auto route, bf16)", auto),
            ("1 (`predict`'s default)", runs[CAMERA]), ("0.7", runs[f"{CAMERA} strength 0.7"]),
            *((f"{key.rsplit(' ', 1)[1]} (bf16)", entry) for key, entry in stronger.items() if key != CAMERA),
            *((f"{'1' if key == CAMERA else key.rsplit(' ', 1)[1]}, mean over 8 flips/rotations (bf16)", entry)
              for key, entry in ensemble.items())]
    lines = ["| strength | PolyU gain | even / odd half | made worse | worst gain |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {label} | {entry['overall']['gain']:+.2f} | {_halves(entry)} | "
              f"{100 * entry['overall']['worse']:.0f}% | {entry['overall']['worst_gain']:+.2f} |"
              for label, entry in rows]
    return "\n".join(lines)


def bm3d_all(results: Path) -> str:
    """BM3D at the level chosen on its 10 pictures, on every picture, beside the camera model at the default,
    at :data:`STRENGTH` and at it with the mean over 8 flips/rotations; per camera, the best in bold."""
    run = _read(results, "real_noise/polyu_bm3d_all.json")
    bm3d = next(entry for key, entry in run["denoisers"].items() if key.startswith("BM3D"))
    level = next(iter(run["bm3d_levels"].values()))
    columns = [bm3d, _read(results, "real_noise/polyu_camera.json")["denoisers"][CAMERA],
               _read(results, "real_noise/polyu_camera_strength.json")["denoisers"][f"{CAMERA} strength {STRENGTH:g}"],
               _read(results, "real_noise/polyu_camera_ensemble8_strength.json")["denoisers"][
                   f"{CAMERA} strength {STRENGTH:g}"]]
    lines = [f"| camera | pictures | input | BM3D, σ {level:g} | camera model | strength {STRENGTH:g} (bf16) | "
             f"{STRENGTH:g}, mean over 8 flips/rotations (bf16) |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in ["all", *bm3d["per_camera"]]:
        picked = [entry["overall"] if name == "all" else entry["per_camera"][name] for entry in columns]
        best = max(numbers["gain"] for numbers in picked)
        cells = [f"**{_gain(numbers)}**" if numbers["gain"] == best else _gain(numbers) for numbers in picked]
        lines.append(f"| {name} | {picked[0]['n']} | {picked[0]['input_psnr']:.2f} | {' | '.join(cells)} |")
    return "\n".join(lines)


def synthetic_strength(results: Path) -> str:
    """The camera model at strength 1 and above on PNG, JPEG'd and grey pictures."""
    rows = _read(results, "real_noise/camera_noise_strength.json")["synthetic"]
    settings = list(rows[0]["psnr"])
    labels = ["1" if " strength " not in key else key.rsplit(" ", 1)[1] for key in settings]
    lines = ["| noise | σ | input | " + " | ".join(f"strength {label}" for label in labels) + " |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in labels) + " |"]
    for row in rows:
        best = max(row["psnr"].values())
        cells = [(f"**{v:.2f}**" if v == best else f"{v:.2f}") for v in row["psnr"].values()]
        lines.append(f"| {row['case'].replace('png', 'PNG').replace('jpeg', 'JPEG')} | {row['sigma']:g} | "
                     f"{row['input_psnr']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _added(*psnrs: float) -> float:
    """The PSNR of the sum of errors of the given PSNRs (independent errors add their squares)."""
    return -10 * math.log10(sum(10 ** (-value / 10) for value in psnrs))


def synthetic(results: Path) -> str:
    """White noise saved as PNG, as JPEG with 4:2:0 colour, and on grey pictures: input, deep, camera;
    for JPEG, the clean picture through the same JPEG, and the PNG output's error added to that loss."""
    rows = _read(results, "camera_noise.json")["synthetic"]
    cases = list(dict.fromkeys(row["case"] for row in rows))
    deep, camera = "committed", next(key for key in rows[0]["psnr"] if key != "committed")
    png = {row["sigma"]: row["psnr"][deep] for row in rows if row["case"] == "png"}
    lines = ["| noise | σ | input | deep model | camera model | the file without noise | "
             "PNG output's error plus the file's loss |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for case in cases:
        picked = [row for row in rows if row["case"] == case]
        column = (lambda values: " / ".join(f"{v:.2f}" for v in values))
        bold = "" if case == "png" else "**"
        sigmas = " / ".join(f"{row['sigma']:g}" for row in picked)
        kept = picked[0]["noiseless_psnr"]
        file_cells = ("- | -" if kept is None else
                      f"{kept:.2f} | {column(_added(png[row['sigma']], kept) for row in picked)}")
        lines.append(f"| {case.replace('png', 'PNG').replace('jpeg', 'JPEG')} | {sigmas} | "
                     f"{column(row['input_psnr'] for row in picked)} | {column(row['psnr'][deep] for row in picked)} | "
                     f"{bold}{column(row['psnr'][camera] for row in picked)}{bold} | {file_cells} |")
    return "\n".join(lines)


def predict_modes(results: Path) -> str:
    """``predict`` as it is, and without its blend toward the input or its colour check, on real noise."""
    noise = _read(results, "camera_noise.json")
    rows = noise["real"]
    models = list(dict.fromkeys(row["model"] for row in rows))
    modes = list(dict.fromkeys(row["predict"] for row in rows))
    gains = {(row["model"], row["predict"]): row for row in rows}
    first = rows[0]
    lines = [f"| `predict` ({first['n']} PolyU pictures spread over the set, input {first['input_psnr']:.2f} dB) | "
             "deep model | camera model |", "| --- | ---: | ---: |"]
    for mode in modes:
        cells = []
        for model in models:
            row = gains[model, mode]
            worse = f" ({100 * row['worse']:.0f}% made worse)" if row["worse"] else ""
            cells.append(f"{row['gain']:+.2f}{worse}, colour shift {row['colour_shift']:.2f}")
        lines.append(f"| {mode} | {' | '.join(cells)} |")
    return "\n".join(lines)


def white(results: Path) -> str:
    """White noise on the unseen pictures: the deep model, the camera model and the auto route."""
    quality = _read(results, "quality.json")["sigmas"]
    camera = _read(results, "real_noise/camera_white.json")["sets"]
    auto = _read(results, "real_noise/auto_white.json")["sets"]
    lines = ["| set | σ | deep model | camera model | difference | made worse (deep / camera) | "
             "auto route, strength 1 |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, path in (("unseen", "data/unseen"), ("unseen_large", "data/unseen128")):
        label = f"{quality[key]['size'].replace('x', '×')} ({quality[key]['n']:,})"
        deep = {row["sigma"]: row for row in quality[key]["rows"] if row["denoiser"] == OURS_DEEP}
        ours = {row["sigma"]: row for row in camera[path]["rows"]}
        default = {row["sigma"]: row for row in auto[path]["rows"]}
        for sigma in sorted(ours):
            d, c, a = deep[sigma], ours[sigma], default[sigma]
            lines.append(f"| {label} | {sigma:g} | {d['psnr']:.2f} | {c['psnr']:.2f} | {c['psnr'] - d['psnr']:+.2f} | "
                         f"{100 * d['worse']:.1f}% / {100 * c['worse']:.1f}% | {a['psnr']:.2f} "
                         f"({100 * a['worse']:.1f}% worse) |")
    return "\n".join(lines)


def _change(row: dict) -> str:
    return f"{100 * row['smoothed']:.0f}%: {row['change']:+.2f} ({row['worst']:+.2f})"


def auto_synthetic(results: Path) -> str:
    """What strength auto does to white noise in PNG, JPEG and grey pictures, per sigma: the share of
    the pictures it smoothed more, the mean change against strength 1 and the worst."""
    run = _read(results, "real_noise/auto_strength.json")
    cases = list(dict.fromkeys(row["case"] for row in run["synthetic"]))
    lines = ["| σ | " + " | ".join(case.replace("png", "PNG").replace("jpeg", "JPEG") for case in cases) + " |",
             "| ---: | " + " | ".join("---:" for _ in cases) + " |"]
    for sigma in dict.fromkeys(row["sigma"] for row in run["synthetic"]):
        picked = {row["case"]: row for row in run["synthetic"] if row["sigma"] == sigma}
        lines.append(f"| {sigma:g} | " + " | ".join(_change(picked[case]) for case in cases) + " |")
    return "\n".join(lines)


def auto_clean(results: Path) -> str:
    """What strength auto does to the standard sets' clean pictures, denoised as they are."""
    lines = ["| clean pictures | n | smoothed more | strength 1 | auto | change | worst |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in _read(results, "real_noise/auto_strength.json")["clean"]:
        lines.append(f"| {Path(row['set']).name} | {row['n']} | {100 * row['smoothed']:.0f}% | "
                     f"{row['strength_1']:.2f} | {row['auto']:.2f} | {row['change']:+.2f} | {row['worst']:+.2f} |")
    return "\n".join(lines)


TABLES = {"polyu": polyu, "strength": strength, "bm3d_all": bm3d_all, "synthetic_strength": synthetic_strength,
          "synthetic": synthetic, "predict_modes": predict_modes, "white": white, "auto_synthetic": auto_synthetic,
          "auto_clean": auto_clean}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="the results folder (default: results)")
    args = parser.parse_args()
    print("\n\n".join(table(args.results) for table in TABLES.values()))


if __name__ == "__main__":
    main()
