"""Masked variants of the synthetic orbit set: the objects cut out of their ground.

`render_masked_orbit` writes what a background-removal tool gives a user: RGBA PNGs whose alpha
is 0 (and RGB black) wherever the ray meets the ground or the sky, 255 on the objects; or, with
`mask_files=True`, the untouched JPEG photos plus black-and-white masks in `masks/` (nerfstudio's
naming, same stem). Used by tests and benchmarks of mask support.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from spaceport.synthetic.render import pixel_rays, render_scene
from spaceport.synthetic.scene import make_scene, trace
from spaceport.synthetic.truth import TRUTH_FILE, SceneTruth, write_truth

OBJECT_MIN_HEIGHT = 0.02  # metres above the orbit scene's flat ground: a hit there is an object


def object_mask(truth: SceneTruth, index: int) -> np.ndarray:
    """[H, W] bool: pixels of photo `index` whose ray first meets an object (not ground or sky)."""
    scene = make_scene("orbit", np.random.default_rng(truth.seed))
    image = truth.images[index]
    rotation, translation = np.asarray(image.rotation), np.asarray(image.translation)
    centre, rays = pixel_rays(rotation, translation, truth.K(), truth.width, truth.height)
    _, depth = trace(scene, centre, rays)
    hits = centre + np.where(np.isfinite(depth), depth, 0.0)[:, None] * rays
    return (np.isfinite(depth) & (hits[:, 2] > OBJECT_MIN_HEIGHT)).reshape(truth.height, truth.width)


def render_masked_orbit(
    out_dir: Path,
    n_images: int = 16,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
    mask_files: bool = False,
    hfov_deg: float = 32.0,
) -> SceneTruth:
    """Render the orbit set into out_dir with its objects masked (see the module docstring); the
    narrow field of view (default 32 deg) lets the objects fill about half of each photo."""
    out_dir = Path(out_dir)
    truth = render_scene(
        "orbit", out_dir, n_images=n_images, width=width, height=height, seed=seed, hfov_deg=hfov_deg
    )
    for index, image in enumerate(truth.images):
        keep = object_mask(truth, index)
        photo = out_dir / image.name
        if mask_files:
            (out_dir / "masks").mkdir(exist_ok=True)
            Image.fromarray(keep.astype(np.uint8) * 255).save(out_dir / "masks" / f"{photo.stem}.png")
            continue
        rgb = np.asarray(Image.open(photo).convert("RGB")) * keep[..., None]
        rgba = np.concatenate([rgb, keep[..., None].astype(np.uint8) * 255], axis=2).astype(np.uint8)
        Image.fromarray(rgba, "RGBA").save(photo.with_suffix(".png"))
        photo.unlink()
    if not mask_files:
        renamed = [replace(image, name=str(Path(image.name).with_suffix(".png"))) for image in truth.images]
        truth = replace(truth, images=renamed)
        write_truth(truth, out_dir / TRUTH_FILE)
    return truth
