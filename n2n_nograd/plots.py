"""Pictures of a training run: loss and PSNR curves, and denoised examples.

Figures are drawn with matplotlib's object interface and the Agg renderer,
never pyplot, so nothing here needs a display or changes the caller's
matplotlib backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .psnr import psnr_per_image

METRICS_FILE = "metrics.jsonl"
RUN_FILE = "run.json"
LOSS_PNG = "loss.png"
PSNR_PNG = "psnr.png"
EXAMPLES_PNG = "examples.png"


def read_metrics(run_dir) -> list[dict]:
    """The per-epoch records of a run, in epoch order."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no such file; is {run_dir} a training run directory?")
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            for key in ("epoch", "train_loss", "val_psnr"):
                float(record[key])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}, line {number}: not a metrics record ({exc})") from exc
        records.append(record)
    return sorted(records, key=lambda r: r["epoch"])


def _save(fig: Figure, path, tight: bool = True) -> None:
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=120)


def _epoch_axis(ax) -> None:
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def draw_loss(records: list[dict], path) -> None:
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot([r["epoch"] for r in records], [r["train_loss"] for r in records], "o-")
    _epoch_axis(ax)
    # Noise2Noise compares with noisy targets, so this never reaches 0.
    ax.set_ylabel("mean training loss (MSE, [0, 1] scale)")
    ax.set_title("Training loss (against the noisy targets)")
    ax.grid(alpha=0.3)
    _save(fig, path)


def draw_psnr(records: list[dict], path, input_psnr: float | None = None) -> None:
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.plot([r["epoch"] for r in records], [r["val_psnr"] for r in records], "o-",
            label="denoised validation set")
    if input_psnr is not None:
        ax.axhline(input_psnr, color="grey", linestyle="--", label=f"noisy input ({input_psnr:.2f} dB)")
    _epoch_axis(ax)
    ax.set_ylabel("validation PSNR (dB)")
    ax.set_title("Validation PSNR")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def draw_examples(noisy: torch.Tensor, denoised: torch.Tensor, clean: torch.Tensor, path,
                  title: str = "") -> None:
    """A grid: one column per picture, rows noisy / denoised / clean.

    ``noisy`` and ``clean`` are uint8 (N, 3, H, W), ``denoised`` floats in [0, 255].
    """
    noisy_db = psnr_per_image(noisy.float() / 255, clean.float() / 255)
    denoised_db = psnr_per_image(denoised.float() / 255, clean.float() / 255)
    n = len(clean)
    fig = Figure(figsize=(1.6 * n, 6.0))
    rows = [("noisy", noisy, noisy_db), ("denoised", denoised, denoised_db), ("clean", clean, None)]
    for row, (name, pictures, scores) in enumerate(rows):
        for col in range(n):
            ax = fig.add_subplot(3, n, row * n + col + 1)
            pixels = pictures[col].float().round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0)
            ax.imshow(pixels.numpy(), interpolation="nearest")
            ax.set_title(name if scores is None else f"{name}\n{scores[col].item():.1f} dB", fontsize=8)
            ax.set_axis_off()
    if title:
        fig.suptitle(title)
    # tight_layout takes seconds on this many axes; a fixed layout looks the same.
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.86 if title else 0.93,
                        wspace=0.1, hspace=0.35)
    _save(fig, path, tight=False)


def example_indices(n_available: int, count: int = 8) -> list[int]:
    """Evenly spread validation pictures, the same ones in every run."""
    count = min(count, n_available)
    return [i * n_available // count for i in range(count)]


def redraw(run_dir) -> list[Path]:
    """Draw loss.png and psnr.png of a run from its metrics.jsonl (and run.json)."""
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    if not records:
        raise ValueError(f"{run_dir / METRICS_FILE}: holds no epochs yet")
    input_psnr = None
    run_file = run_dir / RUN_FILE
    if run_file.is_file():
        input_psnr = json.loads(run_file.read_text()).get("val_input_psnr")
    loss_png, psnr_png = run_dir / LOSS_PNG, run_dir / PSNR_PNG
    draw_loss(records, loss_png)
    draw_psnr(records, psnr_png, input_psnr)
    return [loss_png, psnr_png]
