"""Peak signal-to-noise ratio, computed exactly as the course's grader does.

The grader averages per-image PSNRs (it does not take the PSNR of the mean
squared error over the whole set), so a few very clean images weigh as much
as many noisy ones.  Both tensors hold values on the [0, 1] scale.
"""

import torch


def _check(denoised: torch.Tensor, clean: torch.Tensor) -> None:
    if denoised.shape != clean.shape:
        raise ValueError(f"psnr: shapes differ: {tuple(denoised.shape)} vs {tuple(clean.shape)}")
    if denoised.ndim != 4:
        raise ValueError(f"psnr: expected (N, C, H, W) tensors, got shape {tuple(denoised.shape)}")
    # Integer tensors would square with wrap-around and are on the wrong scale.
    if not (denoised.is_floating_point() and clean.is_floating_point()):
        raise TypeError("psnr: expected float tensors on the [0, 1] scale")


def psnr_per_image(denoised: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each image of a (N, C, H, W) batch, as a length-N tensor."""
    _check(denoised, clean)
    return -10 * torch.log10(((denoised - clean) ** 2).mean((1, 2, 3)))


def psnr(denoised: torch.Tensor, clean: torch.Tensor) -> float:
    """Mean over the batch of the per-image PSNRs in dB (the grader's number)."""
    return psnr_per_image(denoised, clean).mean().item()
