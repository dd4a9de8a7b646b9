"""The report's figures, each drawn into a box of a page (see typeset.Document.figure)."""
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from typeset import PAGE, axes_grid

COLOURS = ["#1f5fa8", "#d9622b", "#3a9a4a", "#8e44ad", "#b8860b", "#555555"]
#: Entries per row of a legend above a figure: more would run past the text width.
LEGEND_COLUMNS = 3


def _pixels(picture):
    """A (3, H, W) tensor on 0-255 as an (H, W, 3) uint8 array."""
    return picture.float().round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def _image_axes(fig, box_in):
    x, y, w, h = box_in
    ax = fig.add_axes([x / PAGE[0], y / PAGE[1], w / PAGE[0], h / PAGE[1]])
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.4)
    return ax


def curves(runs, noisy_psnr):
    """Training curves of several runs: ``runs`` maps a label to its metrics.jsonl records;
    the PSNR panels mark the noisy input's PSNR."""
    def draw(fig, box):
        legend_rows = -(-(len(runs) + 1) // LEGEND_COLUMNS)
        (loss, by_epoch, by_time), = axes_grid(fig, box, 1, 3, left=0.5, top=0.15 + 0.15 * legend_rows,
                                               wspace=0.42)
        for colour, (label, records) in zip(COLOURS, runs.items()):
            epochs = [r["epoch"] for r in records]
            psnr = [r["val_psnr"] for r in records]
            minutes = [r["cumulative_seconds"] / 60 for r in records]
            style = dict(color=colour, marker="o", markersize=2.5, label=label)
            loss.plot(epochs, [r["train_loss"] for r in records], **style)
            by_epoch.plot(epochs, psnr, **style)
            by_time.plot(minutes, psnr, **style)
        loss.set_ylabel("training loss (MSE)")
        loss.set_xlabel("epoch")
        by_epoch.set_xlabel("epoch")
        by_time.set_xlabel("cumulative training time (min)")
        for ax in (by_epoch, by_time):
            ax.set_ylabel("validation PSNR (dB)")
            ax.axhline(noisy_psnr, color="black", linestyle=":", linewidth=0.8, label="noisy input")
        for ax in (loss, by_epoch, by_time):
            ax.grid(alpha=0.3, linewidth=0.5)
        for ax in (loss, by_epoch):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        x, y, w, h = box
        fig.legend(*by_epoch.get_legend_handles_labels(), loc="upper center", ncol=LEGEND_COLUMNS, frameon=False,
                   bbox_to_anchor=((x + w / 2) / PAGE[0], (y + h + 0.03) / PAGE[1]))
    return draw


def examples(noisy, denoised, clean, scores):
    """Validation pictures in columns, rows noisy / denoised / clean; ``scores`` gives the
    PSNR (dB) of the noisy and denoised rows per picture."""
    n = len(clean)

    def draw(fig, box):
        x, y, w, h = box
        label_width, gap = 0.62, 0.05
        side = min((w - label_width) / n - gap, (h - 0.05) / 3 - 0.17)
        rows = [("noisy", noisy, scores[0]), ("denoised", denoised, scores[1]), ("clean", clean, None)]
        for r, (name, pictures, row_scores) in enumerate(rows):
            top = y + h - r * (side + 0.17)
            fig.text((x + label_width - 0.08) / PAGE[0], (top - side / 2 - 0.02) / PAGE[1], name,
                     ha="right", va="center", fontsize=8.5)
            for c in range(n):
                ax = _image_axes(fig, (x + label_width + c * (side + gap), top - side, side, side))
                ax.imshow(_pixels(pictures[c]), interpolation="nearest")
                if row_scores is not None:
                    ax.set_xlabel(f"{row_scores[c]:.1f} dB", fontsize=7.5, labelpad=1.5)
    return draw


def photo(noisy, denoised, clean, scores, crop):
    """One photograph: the denoised whole with the crop marked, then the crop noisy /
    denoised / clean. ``scores`` = PSNR (dB) of the noisy and denoised whole photograph;
    ``crop`` = (top, left, size) in pixels."""
    top, left, size = crop

    def draw(fig, box):
        x, y, w, h = box
        height, width = clean.shape[1:]
        title_room, gap = 0.2, 0.1
        whole_w = min((h - title_room) * width / height, w * 0.4)
        whole_h = whole_w * height / width
        ax = _image_axes(fig, (x, y + h - title_room - whole_h, whole_w, whole_h))
        ax.imshow(_pixels(denoised), interpolation="nearest")
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor="#ffdd00", linewidth=1))
        ax.set_title(f"denoised, {width}×{height} pixels", fontsize=8.5)
        side = min((w - whole_w - 3 * gap) / 3, h - title_room)
        titles = (f"noisy: {scores[0]:.2f} dB", f"denoised: {scores[1]:.2f} dB", "clean")
        for i, (picture, title) in enumerate(zip((noisy, denoised, clean), titles)):
            ax = _image_axes(fig, (x + whole_w + gap * (i + 1) + side * i, y + h - title_room - side, side, side))
            ax.imshow(_pixels(picture[:, top:top + size, left:left + size]), interpolation="nearest")
            ax.set_title(title, fontsize=8.5)
    return draw


def noise_levels_photo(rows):
    """A crop of one photograph at several noise levels: one row per level, one column per
    denoiser. ``rows``: ``(label, [(title, (3, H, W) picture), ...])``."""
    n = len(rows[0][1])

    def draw(fig, box):
        x, y, w, h = box
        label_width, gap, title_room = 0.45, 0.05, 0.17
        side = min((w - label_width) / n - gap, h / len(rows) - title_room)
        for r, (label, cells) in enumerate(rows):
            top = y + h - r * (side + title_room) - title_room
            fig.text((x + label_width - 0.08) / PAGE[0], (top - side / 2) / PAGE[1], label,
                     ha="right", va="center", fontsize=8.5)
            for c, (title, picture) in enumerate(cells):
                ax = _image_axes(fig, (x + label_width + c * (side + gap), top - side, side, side))
                ax.imshow(_pixels(picture), interpolation="nearest")
                ax.set_title(title, fontsize=7, pad=2)
    return draw


def save_alone(draw, size, path):
    """Draw a figure ``size`` = (width, height) inches into a PNG of its own at ``path``."""
    fig = Figure(figsize=PAGE)
    draw(fig, (0.0, 0.0, *size))
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.05)


def ablation(bars):
    """Horizontal bars, one per run: final validation PSNR and total training time.

    ``bars`` lists ``(label, factor, psnr_db, seconds)`` top to bottom; the base run is the
    one whose factor is "base".
    """
    factors = list(dict.fromkeys(factor for _, factor, _, _ in bars))
    colour = {factor: COLOURS[i % len(COLOURS)] for i, factor in enumerate(factors)}

    def draw(fig, box):
        (quality, cost), = axes_grid(fig, box, 1, 2, left=1.85, bottom=0.38, wspace=0.08,
                                     width_ratios=[3, 2])
        positions = np.arange(len(bars))[::-1]
        labels = [label for label, _, _, _ in bars]
        psnrs = np.array([p for _, _, p, _ in bars])
        seconds = np.array([s for _, _, _, s in bars])
        colours = [colour[factor] for _, factor, _, _ in bars]
        base = next(p for _, factor, p, _ in bars if factor == "base")
        low, high = psnrs.min(), psnrs.max()
        span = max(high - low, 0.1)
        quality.barh(positions, psnrs - (low - 0.25 * span), left=low - 0.25 * span, color=colours, height=0.7)
        quality.axvline(base, color="black", linestyle="--", linewidth=0.7)
        for y, p in zip(positions, psnrs):
            quality.text(p + 0.02 * span, y, f"{p:.2f}", va="center", fontsize=7)
        quality.set_xlim(low - 0.25 * span, high + 0.22 * span)
        quality.set_yticks(positions, labels)
        quality.set_xlabel("validation PSNR after the last epoch (dB)")
        cost.barh(positions, seconds, color=colours, height=0.7)
        cost.set_yticks(positions, [])
        cost.set_xlabel("training time, all epochs (s)")
        base_seconds = next(s for _, factor, _, s in bars if factor == "base")
        cost.axvline(base_seconds, color="black", linestyle="--", linewidth=0.7)
        for ax in (quality, cost):
            ax.set_ylim(-0.6, len(bars) - 0.4)
            ax.grid(axis="x", alpha=0.3, linewidth=0.5)
    return draw
