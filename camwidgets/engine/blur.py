"""The one Gaussian blur of the package: RISE's deletion/insertion baseline, SESS's final smoothing
and SSIM's window all use it. It gives torchvision's ``gaussian_blur`` (reflected borders; tested
against it), and also works on images smaller than half the kernel (replicated borders there)."""

from __future__ import annotations

from numbers import Real

import torch
import torch.nn.functional as F

__all__ = ["gaussian_blur"]


def _gaussian_kernel(kernel_size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Normalised 1-D kernel ``exp(-t^2 / (2 sigma^2))`` at ``t = -(k-1)/2 .. (k-1)/2``."""
    half = (kernel_size - 1) / 2
    t = torch.linspace(-half, half, kernel_size, device=device, dtype=dtype)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(images: torch.Tensor, kernel_size: int = 11, sigma: float = 5.0) -> torch.Tensor:
    """Gaussian blur of a (B, C, H, W) batch, channel by channel, with a separable ``kernel_size``
    kernel of standard deviation ``sigma`` (RISE's 11 and 5). Borders are reflected (replicated
    where the image is smaller than half the kernel), as ``torchvision``'s ``gaussian_blur``."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, for example 11; got {kernel_size!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, Real) or not float(sigma) > 0:
        raise ValueError(f"sigma must be a positive number (the blur's standard deviation in pixels); got {sigma!r}")
    if images.ndim != 4:
        raise ValueError(f"gaussian_blur needs a (B, C, H, W) batch; got shape {tuple(images.shape)}")
    channels = images.shape[1]
    kernel = _gaussian_kernel(kernel_size, float(sigma), images.device, images.dtype)
    pad = kernel_size // 2
    mode = "reflect" if pad < min(images.shape[-2:]) else "replicate"
    padded = F.pad(images, (pad, pad, pad, pad), mode=mode)
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, kernel_size), groups=channels)
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).expand(channels, 1, kernel_size, 1), groups=channels)
