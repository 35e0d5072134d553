"""Held-out views for codec-loss figures: orbit cameras around a splat, rendered on the CPU.

Rendering uses the train stage's CPU rasterizer (`services.train.container.raster.rasterize`,
which mirrors `gsplat.rasterization`), so the original and the decoded model go through the
same renderer; only the codec differs.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from services.compress.container.splats import Splats, sigmoid


def orbit_cameras(splats: Splats, views: int = 8, size: int = 256, fov_deg: float = 50.0, seed: int = 0):
    """World-to-camera matrices [V, 4, 4], intrinsics [V, 3, 3], width and height, looking at the
    splat's bulk (pass them on as `render(splats, *views)`).

    Centre: opacity-weighted median position; axis: the direction of least spread (the ground
    normal of an object on a table); cameras at 1.6x the 80th-percentile radius, elevations
    alternating between 20 and 45 degrees on both sides, azimuths evenly spaced (offset so none
    coincides with a trivial axis-aligned view).
    """
    opaque = sigmoid(splats.opacities) > 0.5
    pts = splats.means[opaque] if opaque.sum() > 100 else splats.means
    centre = np.median(pts, axis=0)
    dist = np.linalg.norm(pts - centre, axis=1)
    radius = float(np.percentile(dist, 80)) * 1.6
    _, _, vt = np.linalg.svd(pts[np.argsort(dist)[: max(100, len(pts) * 8 // 10)]] - centre, full_matrices=False)
    up = vt[2]
    a = vt[0]
    b = np.cross(up, a)
    viewmats, ks = [], []
    focal = 0.5 * size / math.tan(math.radians(fov_deg) / 2)
    for i in range(views):
        azim = 2 * math.pi * (i + 0.37) / views
        elev = math.radians((20, 45)[i % 2]) * (1 if i % 4 < 2 else -1)
        d = math.cos(elev) * (math.cos(azim) * a + math.sin(azim) * b) + math.sin(elev) * up
        eye = centre + radius * d
        fwd = (centre - eye) / np.linalg.norm(centre - eye)
        right = np.cross(fwd, up)
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        rot = np.stack([right, down, fwd])  # rows: camera x, y, z in world (OpenCV convention)
        m = np.eye(4)
        m[:3, :3] = rot
        m[:3, 3] = -rot @ eye
        viewmats.append(m)
        ks.append([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])
    return np.array(viewmats, np.float32), np.array(ks, np.float32), size, size


def render(splats: Splats, viewmats: np.ndarray, ks: np.ndarray, width: int, height: int) -> np.ndarray:
    """RGB renders [V, H, W, 3] in [0, 1] on a black background."""
    from services.train.container.raster import rasterize

    c = splats.sh_coeffs
    colors = np.concatenate([splats.sh0[:, None, :], splats.sh_rest.reshape(-1, 3, c).transpose(0, 2, 1)], axis=1)
    with torch.no_grad():
        out, _, _ = rasterize(
            torch.from_numpy(splats.means),
            torch.from_numpy(splats.quats),
            torch.from_numpy(np.exp(splats.log_scales)),
            torch.from_numpy(sigmoid(splats.opacities).astype(np.float32)),
            torch.from_numpy(colors.astype(np.float32)),  # [N, (deg+1)^2, 3]
            torch.from_numpy(viewmats),
            torch.from_numpy(ks),
            width,
            height,
            sh_degree=splats.sh_degree,
        )
    return out.clamp(0, 1).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)
