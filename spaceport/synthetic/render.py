"""Render a synthetic photo set with known cameras: `render_scene(kind, out_dir, ...) -> SceneTruth`.

- "drone": a textured terrain height field with box buildings, seen from a serpentine grid at
  ~40 m, slightly tilted, with GPS EXIF (world frame = ENU around `DRONE_ORIGIN`).
- "orbit": textured boxes and a sphere on textured ground, seen from two interleaved rings.
Photos are JPEGs with EXIF make/model/focal length (35 mm equivalent, rounded like a camera
would); `truth.json` holds the exact intrinsics and world-to-camera poses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from services.sfm.container.geo import dji_attitude_from_rotation, enu_to_wgs84
from spaceport.synthetic.exif import make_exif
from spaceport.synthetic.scene import make_scene, trace
from spaceport.synthetic.truth import TRUTH_FILE, ImageTruth, SceneTruth, write_truth

SceneKind = Literal["drone", "orbit"]
DRONE_ORIGIN = (47.3769, 8.5417, 400.0)  # lat, lon, alt of the ENU origin (ground level)
FULL_FRAME_DIAGONAL_MM = 43.27


def look_at(centre: np.ndarray, target: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera (R [3, 3], t [3]) for a camera at `centre` looking at `target`; OpenCV axes."""
    z = target - centre
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    rotation = np.stack([x, y, z])
    return rotation, -rotation @ centre


@dataclass(frozen=True)
class DroneFlight:
    """How the synthetic drone flies, over what, and what its GPS and XMP say (kind "drone")."""

    terrain: Literal["relief", "flat"] = "relief"  # hills and buildings, or a flat textured field
    altitudes_m: tuple[float, ...] = (40.0,)  # one survey pass per height above ground, same grid
    tilt_deg: float = 12.0  # mean camera tilt away from straight down (0: nadir)
    gps_sigma_m: tuple[float, float] = (0.0, 0.0)  # GPS error std written to EXIF: horizontal, vertical
    gps_accuracy_tag: float | None = None  # GPSHPositioningError (metres) to write, if any
    attitude_xmp: bool = False  # write DJI XMP gimbal yaw/pitch/roll (the true camera attitude)


def drone_cameras(n: int, rng: np.random.Generator,
                  flight: DroneFlight = DroneFlight()) -> list[tuple[np.ndarray, np.ndarray]]:
    """World-to-camera poses of a serpentine survey grid, one pass per altitude."""
    passes = len(flight.altitudes_m)
    per_pass = math.ceil(n / passes)
    cols = max(2, math.ceil(math.sqrt(per_pass * 1.5)))
    rows = math.ceil(per_pass / cols)
    poses = []
    for k in range(n):
        altitude = flight.altitudes_m[k // per_pass]
        r, c = divmod(k % per_pass, cols)
        c = c if r % 2 == 0 else cols - 1 - c  # serpentine, like a survey flight
        heading = np.array([0.0, 1.0, 0.0]) if r % 2 == 0 else np.array([0.0, -1.0, 0.0])
        yaw = math.radians(rng.uniform(-6, 6))
        heading = np.array([heading[0] * math.cos(yaw) - heading[1] * math.sin(yaw),
                            heading[0] * math.sin(yaw) + heading[1] * math.cos(yaw), 0.0])
        centre = np.array([(c - (cols - 1) / 2) * 11.0, (r - (rows - 1) / 2) * 10.0,
                           altitude + rng.uniform(-1.5, 1.5)])
        centre[:2] += rng.uniform(-1.0, 1.0, size=2)
        tilt = math.radians(flight.tilt_deg + rng.uniform(-4, 4) * min(1.0, flight.tilt_deg / 12.0))
        forward = heading * math.sin(tilt) + np.array([0.0, 0.0, -1.0]) * math.cos(tilt)
        poses.append(look_at(centre, centre + forward, heading))
    return poses


def dji_xmp(world_from_camera: np.ndarray) -> bytes:
    """A DJI-style XMP packet with the gimbal attitude of a camera (drone-dji attribute form)."""
    yaw, pitch, roll = dji_attitude_from_rotation(world_from_camera)
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/" '
        f'drone-dji:GimbalYawDegree="{yaw:+.2f}" drone-dji:GimbalPitchDegree="{pitch:+.2f}" '
        f'drone-dji:GimbalRollDegree="{roll:+.2f}"/></rdf:RDF></x:xmpmeta>'
    ).encode()


def orbit_cameras(n: int, rng: np.random.Generator, arc_deg: float = 360.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """n cameras on two interleaved rings over `arc_deg` degrees, looking at the object."""
    poses = []
    target = np.array([0.0, 0.0, 0.6])
    step = math.radians(arc_deg) / (n if arc_deg >= 360.0 else max(n - 1, 1))
    for k in range(n):
        angle = step * k + rng.uniform(-0.05, 0.05) * step
        radius = 5.0 + rng.uniform(-0.3, 0.3)
        height = (3.6 if k % 2 == 0 else 4.6) + rng.uniform(-0.2, 0.2)
        centre = np.array([radius * math.cos(angle), radius * math.sin(angle), height])
        poses.append(look_at(centre, target + rng.uniform(-0.2, 0.2, size=3), np.array([0.0, 0.0, 1.0])))
    return poses


def pixel_rays(rotation: np.ndarray, translation: np.ndarray, K: np.ndarray,
               width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre [3] and unit world-frame rays [H*W, 3] through the pixel centres (row-major)."""
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)  # [H*W, 3]
    rays_cam = pix @ np.linalg.inv(K).T
    rays = rays_cam @ rotation  # camera -> world: R^T x, written row-wise
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    return -rotation.T @ translation, rays


def render_view(scene, rotation: np.ndarray, translation: np.ndarray, K: np.ndarray,
                width: int, height: int) -> np.ndarray:
    """One image: uint8 [H, W, 3]."""
    centre, rays = pixel_rays(rotation, translation, K, width, height)
    rgb, _ = trace(scene, centre, rays)
    return (rgb.reshape(height, width, 3) * 255.0 + 0.5).astype(np.uint8)


def render_scene(kind: SceneKind, out_dir: Path, n_images: int = 24, width: int = 640,
                 height: int = 480, seed: int = 0, hfov_deg: float | None = None,
                 arc_deg: float = 360.0, flight: DroneFlight = DroneFlight()) -> SceneTruth:
    """Render `n_images` JPEGs into `out_dir` and write `out_dir/truth.json`; deterministic in `seed`.

    `arc_deg` (orbit only): the part of the circle the cameras cover; SIFT needs neighbouring
    views within ~20-25 deg, so a full orbit wants >= 16 photos.
    `flight` (drone only): terrain, altitudes, tilt, GPS noise and XMP attitude; the GPS noise
    comes from its own generator, so the photos do not depend on it.
    """
    if kind not in ("drone", "orbit"):
        raise ValueError(f"unknown scene kind {kind!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scene = make_scene(kind, rng, flat=kind == "drone" and flight.terrain == "flat")
    hfov = math.radians(hfov_deg or (70.0 if kind == "drone" else 60.0))
    focal = width / (2 * math.tan(hfov / 2))
    K = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    poses = drone_cameras(n_images, rng, flight) if kind == "drone" else orbit_cameras(n_images, rng, arc_deg)
    gps_rng = np.random.default_rng([seed, 1])
    focal_35 = focal * FULL_FRAME_DIAGONAL_MM / math.hypot(width, height)
    images = []
    for k, (rotation, translation) in enumerate(poses):
        name = f"{'DJI' if kind == 'drone' else 'IMG'}_{k + 1:04d}.jpg"
        gps, xmp = None, b""
        if kind == "drone":
            centre = -rotation.T @ translation
            h_sigma, v_sigma = flight.gps_sigma_m
            centre = centre + gps_rng.normal(0.0, 1.0, 3) * np.array([h_sigma, h_sigma, v_sigma])
            gps = tuple(float(x) for x in enu_to_wgs84(centre[None], DRONE_ORIGIN)[0])
            xmp = dji_xmp(rotation.T) if flight.attitude_xmp else b""
        pixels = render_view(scene, rotation, translation, K, width, height)
        exif = make_exif("Spaceport", f"Synthetic {kind}", focal_35, round(focal_35), gps,
                         gps_accuracy_m=flight.gps_accuracy_tag if kind == "drone" else None)
        Image.fromarray(pixels).save(out_dir / name, "JPEG", quality=95, exif=exif, **({"xmp": xmp} if xmp else {}))
        images.append(ImageTruth(name, rotation.tolist(), translation.tolist(), list(gps) if gps else None))
    truth = SceneTruth(kind, seed, width, height, focal, focal, width / 2, height / 2, images,
                       list(DRONE_ORIGIN) if kind == "drone" else None)
    write_truth(truth, out_dir / TRUTH_FILE)
    return truth
