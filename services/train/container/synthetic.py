"""Small synthetic SfM outputs (images/ + sparse/0/) for tests and benchmarks.

A ground-truth cloud of Gaussians (a textured ball on a textured floor) is rendered from an orbit
of pinhole cameras with our CPU rasterizer (itself tested against the brute-force reference);
the COLMAP model holds the true poses and a noisy subset of the Gaussian centres as 3D points,
as SfM would deliver them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pycolmap
import torch
from PIL import Image

from services.train.container.raster.cpu import rasterization


def _look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera 4x4 for a camera at `centre` looking at `target` (OpenCV axes, z up world)."""
    forward = target - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])  # rows: camera axes in world
    view = np.eye(4)
    view[:3, :3] = R
    view[:3, 3] = -R @ centre
    return view


def gaussian_world(n: int, seed: int) -> dict[str, torch.Tensor]:
    """Ground-truth Gaussians: half on a unit sphere, half on the floor z = -1 (activated values)."""
    g = torch.Generator().manual_seed(seed)
    n_ball = n // 2
    d = torch.randn(n_ball, 3, generator=g)
    ball = d / d.norm(dim=-1, keepdim=True)
    floor = torch.cat([(torch.rand(n - n_ball, 2, generator=g) - 0.5) * 5.0, -torch.ones(n - n_ball, 1)], 1)
    means = torch.cat([ball, floor])
    # Colour patterns: stripes on the ball, a checkerboard on the floor.
    ball_rgb = 0.5 + 0.4 * torch.stack(
        [torch.sin(5 * ball[:, 2]), torch.cos(4 * ball[:, 0]), torch.sin(3 * ball[:, 1] + 1)], -1
    )
    check = ((torch.floor(floor[:, 0] * 2) + torch.floor(floor[:, 1] * 2)) % 2)[:, None]
    floor_rgb = 0.2 + 0.6 * check * torch.tensor([0.9, 0.8, 0.3]) + 0.1 * torch.rand(n - n_ball, 3, generator=g)
    rgb = torch.cat([ball_rgb, floor_rgb]).clamp(0.02, 0.98)
    spacing = math.sqrt(4 * math.pi / max(n_ball, 1))
    scales = torch.full((n, 3), spacing * 0.8)
    scales[:, 2] *= 0.3
    quats = torch.randn(n, 4, generator=g)
    return {
        "means": means,
        "quats": quats,
        "scales": scales,
        "opacities": torch.full((n,), 0.9),
        "sh": ((rgb - 0.5) / 0.28209479177387814)[:, None, :],  # [N, 1, 3] degree-0 SH
    }


def write_scene(
    out_dir: Path,
    n_images: int = 16,
    width: int = 96,
    height: int = 72,
    n_gaussians: int = 4000,
    n_points: int = 500,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Write `out_dir/images/*.png` and `out_dir/sparse/0/*.bin`; returns the ground-truth Gaussians."""
    world = gaussian_world(n_gaussians, seed)
    rng = np.random.default_rng(seed)
    focal = 0.5 * width / math.tan(math.radians(55) / 2)
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "sparse" / "0").mkdir(parents=True, exist_ok=True)
    rec = pycolmap.Reconstruction()
    camera = pycolmap.Camera.create_from_model_name(1, "PINHOLE", focal, width, height)
    camera.params = [focal, focal, width / 2, height / 2]
    rec.add_camera_with_trivial_rig(camera)
    for i in range(n_images):
        angle = 2 * math.pi * i / n_images
        centre = np.array([4.0 * math.cos(angle), 4.0 * math.sin(angle), 1.2 + 0.4 * math.sin(3 * angle)])
        view = _look_at(centre, np.array([0.0, 0.0, -0.3]))
        with torch.no_grad():
            img, _, _ = rasterization(
                world["means"], world["quats"], world["scales"], world["opacities"], world["sh"],
                torch.tensor(view, dtype=torch.float32)[None], torch.tensor(K, dtype=torch.float32)[None],
                width, height, sh_degree=0,
            )
        name = f"view_{i:03d}.png"
        Image.fromarray((img[0].clamp(0, 1).numpy() * 255).round().astype(np.uint8)).save(out_dir / "images" / name)
        image = pycolmap.Image(name=name, camera_id=1, image_id=i + 1)
        rec.add_image_with_trivial_frame(image, pycolmap.Rigid3d(view[:3, :4]))
    picks = rng.choice(n_gaussians, size=min(n_points, n_gaussians), replace=False)
    noise = rng.normal(scale=0.02, size=(len(picks), 3))
    rgb = world["sh"][:, 0].numpy() * 0.28209479177387814 + 0.5
    for p, e in zip(picks, noise, strict=True):
        colour = (np.clip(rgb[p], 0, 1) * 255).astype(np.uint8)
        rec.add_point3D(world["means"][p].numpy().astype(np.float64) + e, pycolmap.Track(), colour)
    rec.write(str(out_dir / "sparse" / "0"))
    return world
