"""The Gaussian model: parameters initialised from SfM points, their optimizers and schedule."""

from __future__ import annotations

import math

import torch
from scipy.spatial import cKDTree
from torch import Tensor

SH_C0 = 0.28209479177387814

PARAM_KEYS = ("means", "scales", "quats", "opacities", "sh0", "shN")


def rgb_to_sh(rgb: Tensor) -> Tensor:
    return (rgb - 0.5) / SH_C0


def init_params(
    points: Tensor,  # [P, 3]
    colors: Tensor,  # [P, 3] in [0, 1]
    sh_degree: int,
    init_opacity: float,
    init_scale: float,
    max_gaussians: int,
    generator: torch.Generator,
) -> dict[str, Tensor]:
    """gsplat's simple_trainer initialisation: one Gaussian per SfM point (at most max_gaussians)."""
    if len(points) > max_gaussians:
        keep = torch.randperm(len(points), generator=generator)[:max_gaussians]
        points, colors = points[keep], colors[keep]
    n = len(points)
    k = min(4, n)
    dist, _ = cKDTree(points.numpy()).query(points.numpy(), k=k)
    dist = torch.from_numpy(dist[:, 1:]).float() if k > 1 else torch.ones(n, 1)
    dist_avg = torch.sqrt((dist**2).mean(-1)).clamp_min(1e-7)  # [N]
    n_coeffs = (sh_degree + 1) ** 2
    sh = torch.zeros(n, n_coeffs, 3)
    sh[:, 0] = rgb_to_sh(colors)
    return {
        "means": points.clone(),  # [N, 3]
        "scales": torch.log(dist_avg * init_scale)[:, None].repeat(1, 3),  # [N, 3]
        "quats": torch.rand(n, 4, generator=generator),  # [N, 4]
        "opacities": torch.logit(torch.full((n,), init_opacity)),  # [N]
        "sh0": sh[:, :1].contiguous(),  # [N, 1, 3]
        "shN": sh[:, 1:].contiguous(),  # [N, K - 1, 3]
    }


def make_optimizers(
    params: torch.nn.ParameterDict, lrs: dict[str, float], scene_scale: float
) -> dict[str, torch.optim.Optimizer]:
    """One Adam per parameter (the layout gsplat strategies expect); means lr scales with the scene."""
    out: dict[str, torch.optim.Optimizer] = {}
    for key in PARAM_KEYS:
        lr = lrs[key] * (scene_scale if key == "means" else 1.0)
        out[key] = torch.optim.Adam([{"params": params[key], "lr": lr, "name": key}], eps=1e-15)
    return out


def means_gamma(steps: int) -> float:
    """Per-step decay taking the means learning rate to 1% at the last step."""
    return math.exp(math.log(0.01) / max(steps, 1))
