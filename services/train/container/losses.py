"""Photometric losses: L1 and a differentiable SSIM (11x11 Gaussian window, valid padding).

With a mask (pixels to ignore: alpha or a mask file of the photo), ignored pixels of the target
take the render's own (detached) values: they add nothing to L1, SSIM windows across the mask's
edge see no black background to copy, and no gradient pulls the model towards what is hidden.
L1 is averaged over the kept pixels, SSIM over the windows centred on kept pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _window(size: int = 11, sigma: float = 1.5, device: torch.device | None = None) -> Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()  # [size]


def ssim(a: Tensor, b: Tensor) -> Tensor:
    """Mean SSIM of images [B, H, W, C] in [0, 1] (separable Gaussian window, 'valid' borders)."""
    return ssim_map(a, b).mean()


def ssim_map(a: Tensor, b: Tensor) -> Tensor:
    """SSIM per window centre [B, C, H - 10, W - 10] of images [B, H, W, C] in [0, 1]."""
    x = a.permute(0, 3, 1, 2)  # [B, C, H, W]
    y = b.permute(0, 3, 1, 2)
    B, C = x.shape[:2]
    g = _window(device=a.device)
    # All five local statistics in one separable convolution: [B, 5C, H, W].
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    n = maps.shape[1]
    blurred = F.conv2d(F.conv2d(maps, g.view(1, 1, 1, -1).repeat(n, 1, 1, 1), groups=n),
                       g.view(1, 1, -1, 1).repeat(n, 1, 1, 1), groups=n)
    mu_x, mu_y, exx, eyy, exy = blurred.split(C, dim=1)
    sxx = exx - mu_x**2
    syy = eyy - mu_y**2
    sxy = exy - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return num / den


def photometric(render: Tensor, target: Tensor, ssim_lambda: float, mask: Tensor | None = None) -> Tensor:
    """(1 - lambda) L1 + lambda (1 - SSIM), as 3DGS; render and target [B, H, W, C] in [0, 1].

    mask: [B, H, W] bool, True where the pixel counts (None: every pixel).
    """
    if mask is None:
        l1 = (render - target).abs().mean()
        return (1 - ssim_lambda) * l1 + ssim_lambda * (1 - ssim(render, target))
    keep = mask[..., None].to(render.dtype)  # [B, H, W, 1]
    target = torch.where(keep > 0, target, render.detach())
    l1 = ((render - target).abs() * keep).sum() / (keep.sum() * render.shape[-1]).clamp(min=1.0)
    half = (_window().numel() - 1) // 2
    centres = keep.permute(0, 3, 1, 2)[:, :, half:-half, half:-half]  # [B, 1, H - 10, W - 10]
    ssim_kept = (ssim_map(render, target) * centres).sum() / (centres.sum() * render.shape[-1]).clamp(min=1.0)
    return (1 - ssim_lambda) * l1 + ssim_lambda * (1 - ssim_kept)


def anisotropy(log_scales: Tensor, max_ratio: float) -> Tensor:
    """Needle penalty: mean over Gaussians of max(0, log(s_max / s_mid) - log(max_ratio)).

    `log_scales` [N, 3]. Only the longest axis against the middle one is penalised, so flat discs
    (surfaces) stay free while needles are pulled back. A ratio form of PhysGaussian's anisotropy
    regulariser (Xie et al. 2024, eq. 10, which bounds s_max / s_min), in log space so its gradient
    stays bounded.
    """
    s, _ = log_scales.sort(dim=-1)
    return F.relu(s[:, 2] - s[:, 1] - math.log(max_ratio)).mean()
