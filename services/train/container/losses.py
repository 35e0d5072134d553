"""Photometric losses: L1 and a differentiable SSIM (11x11 Gaussian window, valid padding)."""

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
    return (num / den).mean()


def photometric(render: Tensor, target: Tensor, ssim_lambda: float) -> Tensor:
    """(1 - lambda) L1 + lambda (1 - SSIM), as 3DGS."""
    l1 = (render - target).abs().mean()
    return (1 - ssim_lambda) * l1 + ssim_lambda * (1 - ssim(render, target))


def anisotropy(log_scales: Tensor, max_ratio: float) -> Tensor:
    """Needle penalty: mean over Gaussians of max(0, log(s_max / s_mid) - log(max_ratio)).

    `log_scales` [N, 3]. Only the longest axis against the middle one is penalised, so flat discs
    (surfaces) stay free while needles are pulled back. A ratio form of PhysGaussian's anisotropy
    regulariser (Xie et al. 2024, eq. 10, which bounds s_max / s_min), in log space so its gradient
    stays bounded.
    """
    s, _ = log_scales.sort(dim=-1)
    return F.relu(s[:, 2] - s[:, 1] - math.log(max_ratio)).mean()
