"""Trains Miniproject_1's reference model and writes its bestmodel.pth.

    python tools/train_miniproject1.py --data data --epochs 3

The checkpoint of the epoch with the best validation PSNR is kept, so a
longer run can only improve the committed one. Standard library and torch
only, like the submission folder itself.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

PROJECT = Path(__file__).resolve().parents[1] / "Proj_SCIPER"
sys.path.insert(0, str(PROJECT))

from Miniproject_1.model import Model  # noqa: E402  (needs the path above)


def psnr(denoised, clean):
    """The course's PSNR: the mean of per-image PSNRs on [0, 1]."""
    return (-10 * torch.log10(((denoised - clean) ** 2).mean((1, 2, 3)))).mean().item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"),
                        help="folder with train_data.pkl and val_data.pkl")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, help="train on the first N pairs only")
    parser.add_argument("--out", type=Path, default=PROJECT / "Miniproject_1" / "bestmodel.pth")
    args = parser.parse_args(argv)

    noisy_a, noisy_b = torch.load(args.data / "train_data.pkl")
    val_noisy, val_clean = torch.load(args.data / "val_data.pkl")
    if args.subset:
        noisy_a, noisy_b = noisy_a[:args.subset], noisy_b[:args.subset]
    val_clean = val_clean.float() / 255
    print(f"{noisy_a.shape[0]} training pairs; validation input PSNR "
          f"{psnr(val_noisy.float() / 255, val_clean):.2f} dB")

    model = Model()
    best = -float("inf")
    for _ in range(args.epochs):
        start = time.perf_counter()
        loss = model.train(noisy_a, noisy_b, num_epochs=1)[0]
        score = psnr(model.predict(val_noisy) / 255, val_clean)
        print(f"epoch {model.epochs_trained}: loss {loss:.5f}, validation {score:.2f} dB, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        if score > best:
            best = score
            model.save_model(args.out)
    print(f"best validation PSNR {best:.2f} dB, saved to {args.out}")


if __name__ == "__main__":
    main()
