"""Brute-force reference renderer, written independently of `raster.cpu` and of gsplat.

Every pixel walks every Gaussian in depth order; plain formulas, no tiles, no culling other than
the near/far planes, autograd for gradients. It is slow on purpose and exists to check the fast
path (tests) and to measure it (bench/raster_bench.py). The conventions it implements are those of
3DGS as gsplat renders it: pixel centres at +0.5, EWA splatting with a 0.3 px blur, alpha clamped
to 0.999, contributions below 1/255 skipped, a pixel stops before transmittance drops to <= 1e-4,
colours = SH + 0.5 clamped at 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (
    -0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
    -0.4570457994644658, 1.445305721320277, -0.5900435899266435,
)


def sh_to_rgb(degree: int, sh: Tensor, dirs: Tensor) -> Tensor:
    """INRIA's eval_sh: sh [N, K, 3], dirs [N, 3] (unnormalised) -> rgb [N, 3] (before +0.5)."""
    d = dirs / dirs.norm(dim=-1, keepdim=True)
    x, y, z = d[:, 0:1], d[:, 1:2], d[:, 2:3]
    out = SH_C0 * sh[:, 0]
    if degree > 0:
        out = out - SH_C1 * y * sh[:, 1] + SH_C1 * z * sh[:, 2] - SH_C1 * x * sh[:, 3]
    if degree > 1:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        out = (
            out
            + SH_C2[0] * xy * sh[:, 4]
            + SH_C2[1] * yz * sh[:, 5]
            + SH_C2[2] * (2.0 * zz - xx - yy) * sh[:, 6]
            + SH_C2[3] * xz * sh[:, 7]
            + SH_C2[4] * (xx - yy) * sh[:, 8]
        )
    if degree > 2:
        out = (
            out
            + SH_C3[0] * y * (3 * xx - yy) * sh[:, 9]
            + SH_C3[1] * xy * z * sh[:, 10]
            + SH_C3[2] * y * (4 * zz - xx - yy) * sh[:, 11]
            + SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy) * sh[:, 12]
            + SH_C3[4] * x * (4 * zz - xx - yy) * sh[:, 13]
            + SH_C3[5] * z * (xx - yy) * sh[:, 14]
            + SH_C3[6] * x * (xx - 3 * yy) * sh[:, 15]
        )
    return out


def rotation(q: Tensor) -> Tensor:
    """Unit quaternion (w, x, y, z) [N, 4] -> rotation matrices [N, 3, 3]."""
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def render(
    means: Tensor,  # [N, 3]
    quats: Tensor,  # [N, 4]
    scales: Tensor,  # [N, 3]
    opacities: Tensor,  # [N]
    sh: Tensor,  # [N, K, 3]
    viewmat: Tensor,  # [4, 4]
    K: Tensor,  # [3, 3]
    width: int,
    height: int,
    sh_degree: int,
    near: float = 0.01,
    eps2d: float = 0.3,
) -> tuple[Tensor, Tensor]:
    """One image: colours [H, W, 3] and alphas [H, W, 1]."""
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    M = rotation(quats) * scales[:, None, :]  # R S  [N, 3, 3]
    cov_world = M @ M.transpose(1, 2)  # [N, 3, 3]
    p_cam = means @ R.T + t  # [N, 3]
    cov_cam = R @ cov_world @ R.T  # [N, 3, 3]
    campos = -R.T @ t
    rgb = (sh_to_rgb(sh_degree, sh, means - campos) + 0.5).clamp_min(0.0)  # [N, 3]
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=means.dtype) + 0.5, torch.arange(width, dtype=means.dtype) + 0.5, indexing="ij"
    )
    color = torch.zeros(height, width, 3, dtype=means.dtype)
    T = torch.ones(height, width, dtype=means.dtype)
    done = torch.zeros(height, width, dtype=torch.bool)
    for i in torch.argsort(p_cam[:, 2].detach()).tolist():
        x, y, z = p_cam[i]
        if not (z.item() > near):
            continue
        # Jacobian of the pinhole projection, evaluated at a point clamped to 1.3x the view frustum.
        tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
        xc = z * torch.clamp(x / z, -(cx / fx + 0.3 * tan_x), (width - cx) / fx + 0.3 * tan_x)
        yc = z * torch.clamp(y / z, -(cy / fy + 0.3 * tan_y), (height - cy) / fy + 0.3 * tan_y)
        zero = torch.zeros((), dtype=means.dtype)
        J = torch.stack([
            torch.stack([fx / z, zero, -fx * xc / (z * z)]),
            torch.stack([zero, fy / z, -fy * yc / (z * z)]),
        ])
        cov2 = J @ cov_cam[i] @ J.T + eps2d * torch.eye(2, dtype=means.dtype)
        inv = torch.linalg.inv(cov2)
        u = fx * x / z + cx
        v = fy * y / z + cy
        dx, dy = xs - u, ys - v
        power = -0.5 * (inv[0, 0] * dx * dx + inv[1, 1] * dy * dy) - inv[0, 1] * dx * dy
        alpha = torch.clamp_max(opacities[i] * torch.exp(power), 0.999)
        hit = (power <= 0) & (alpha >= 1.0 / 255.0) & ~done
        stop = hit & (T * (1 - alpha) <= 1e-4)
        done = done | stop
        use = hit & ~stop
        w = torch.where(use, alpha * T, torch.zeros_like(T))
        color = color + w[..., None] * rgb[i]
        T = torch.where(use, T * (1 - alpha), T)
    return color, (1 - T)[..., None]


def fov_focal(width: int, fov_deg: float) -> float:
    return 0.5 * width / math.tan(math.radians(fov_deg) / 2)
