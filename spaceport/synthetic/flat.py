"""A fast renderer for scenes on flat ground (thousands of 1080p video frames on a shared CPU).

Same picture as `render.render_view` (the ray caster, the reference), made in two parts:
- the ground plane z = 0 is a homography of the ground texture (pre-shaded: a flat ground has one
  normal), warped by Pillow in C for the whole frame;
- pixels inside the screen bounding box of a box or the sphere, and ground beyond the textured
  square, are ray cast (`scene.trace`), which also gives the ground and sky there, so occlusion is
  exact.
Sky above the horizon is filled in. tests/unit/sfm/test_video_synthetic.py checks it against
the ray caster.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from spaceport.synthetic.scene import AMBIENT, SKY, SUN, Scene, trace

NEAR = 0.05  # object corners closer than this to the camera plane: the whole frame is ray cast


def _ground_image(scene: Scene) -> Image.Image:
    """The ground texture shaded for a flat ground (normal +z), as an 8-bit image (cached)."""
    cached = getattr(scene, "_flat_ground", None)
    if cached is None:
        shade = AMBIENT + (1.0 - AMBIENT) * max(float(SUN[2]), 0.0)
        pixels = np.clip(scene.ground_texture * shade, 0.0, 1.0) * 255.0 + 0.5
        cached = Image.fromarray(pixels.astype(np.uint8))
        scene._flat_ground = cached  # type: ignore[attr-defined]
    return cached


def _ground_homography(
    scene: Scene, rotation: np.ndarray, translation: np.ndarray, K: np.ndarray, texels: int
) -> tuple[float, ...]:
    """Pillow PERSPECTIVE coefficients taking output pixel coordinates to ground-texture coordinates.

    A pixel p = (x, y, 1) looks along d = R^T K^-1 p from the centre o; it meets z = 0 at
    o - (o_z / d_z) d, at texel (X + extent) * s with s = (texels - 1) / (2 extent) (texel centres
    on integers, as `texture.sample_bilinear`; Pillow's centres are at +0.5).
    """
    o = -rotation.T @ translation
    m = rotation.T @ np.linalg.inv(K)  # [3, 3]: d = m @ p
    s = (texels - 1) / (2.0 * scene.extent)
    offset = s * scene.extent + 0.5
    rows = np.stack(
        [
            s * (o[0] * m[2] - o[2] * m[0]) + offset * m[2],
            s * (o[1] * m[2] - o[2] * m[1]) + offset * m[2],
            m[2],
        ]
    )
    rows /= rows[2, 2]
    return tuple(float(v) for v in rows.ravel()[:8])


def _object_boxes(scene: Scene) -> list[tuple[np.ndarray, np.ndarray]]:
    boxes = [(box.lo, box.hi) for box in scene.boxes]
    if scene.sphere is not None:
        centre, radius = scene.sphere
        boxes.append((centre - radius, centre + radius))
    return boxes


def _screen_mask(
    scene: Scene, rotation: np.ndarray, translation: np.ndarray, K: np.ndarray, width: int, height: int
) -> np.ndarray:
    """[H, W] bool: pixels within the screen bounding box of any object (whole frame if one is
    at or behind the camera plane)."""
    mask = np.zeros((height, width), bool)
    for lo, hi in _object_boxes(scene):
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        cam = corners @ rotation.T + translation  # [8, 3]
        if (cam[:, 2] <= NEAR).any():
            if (cam[:, 2] > NEAR).any():
                mask[:] = True
            continue
        pix = cam @ K.T
        u, v = pix[:, 0] / pix[:, 2], pix[:, 1] / pix[:, 2]
        x0, x1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())) + 1, width)
        y0, y1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())) + 1, height)
        if x0 < x1 and y0 < y1:
            mask[y0:y1, x0:x1] = True
    return mask


def render_flat_view(
    scene: Scene, rotation: np.ndarray, translation: np.ndarray, K: np.ndarray, width: int, height: int
) -> np.ndarray:
    """One image uint8 [H, W, 3] of a scene with flat ground (amplitude 0); camera as render_view."""
    if scene.amplitude != 0.0:
        raise ValueError("render_flat_view needs flat ground (scene.amplitude == 0)")
    ground = _ground_image(scene)
    coefficients = _ground_homography(scene, rotation, translation, K, ground.width)
    out = np.asarray(
        ground.transform(
            (width, height), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
        )
    ).copy()
    m = rotation.T @ np.linalg.inv(K)  # ray direction = m @ (x, y, 1)
    xs = np.arange(width) + 0.5
    ys = np.arange(height) + 0.5
    o = -rotation.T @ translation
    d = [m[i, 0] * xs[None, :] + m[i, 1] * ys[:, None] + m[i, 2] for i in range(3)]  # [H, W] ray x, y, z
    sky = d[2] >= 0.0
    out[sky] = (SKY * 255.0 + 0.5).astype(np.uint8)
    with np.errstate(divide="ignore", invalid="ignore"):  # beyond the ground square: the ray caster clamps
        beyond = ~sky & (
            (np.abs(o[0] - o[2] * d[0] / d[2]) > scene.extent)
            | (np.abs(o[1] - o[2] * d[1] / d[2]) > scene.extent)
        )
    rows, cols = np.nonzero(_screen_mask(scene, rotation, translation, K, width, height) | beyond)
    if len(rows):
        rays = np.stack([xs[cols], ys[rows], np.ones(len(rows))], axis=1) @ m.T
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        rgb, _ = trace(scene, o, rays)
        out[rows, cols] = (rgb * 255.0 + 0.5).astype(np.uint8)
    return out
