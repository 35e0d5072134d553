"""The viewer's first view: where one of the training photos was taken, looking where it looked.

Frames (both right-handed):
- COLMAP world: the SfM model, and so the trained model and model.sog (no stage moves it).
  A camera sees along +z of its own frame with +y down: `x_cam = R x_world + t`.
- SuperSplat viewer world: the viewer turns the loaded splats 180 deg about z
  (`entity.setLocalEulerAngles(0, 0, 180)` in @playcanvas/supersplat-viewer 1.36), so a COLMAP
  point (x, y, z) is drawn at (-x, -y, z). Its camera is a position, a look-at target and a
  vertical field of view; it keeps +y up and has no roll.

A photo whose "up" is not the viewer's +y would open rolled, so the photo chosen is the training
photo (not one held out for evaluation: every `test_every`-th by name, as the training stage
splits them) whose up direction is closest to the viewer's; `roll_deg` reports what is left.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

VIEWER_FROM_COLMAP = np.diag([-1.0, -1.0, 1.0])  # the viewer's 180 deg turn about z
VIEWER_UP = np.array([0.0, 1.0, 0.0])
MAX_PITCH_COS = 0.98  # looking almost straight up or down along the viewer's up: yaw is undefined


def viewer_pose(
    rotation: np.ndarray, translation: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(position, forward, up) in the viewer frame and the median depth of the points in front.

    rotation [3, 3], translation [3]: cam_from_world; points [P, 3] in COLMAP world."""
    centre = -rotation.T @ translation
    forward = rotation.T @ np.array([0.0, 0.0, 1.0])
    up = rotation.T @ np.array([0.0, -1.0, 0.0])
    depths = (points @ rotation.T + translation)[:, 2] if len(points) else np.zeros(0)
    ahead = depths[depths > 0]
    depth = float(np.median(ahead)) if len(ahead) else 1.0
    return VIEWER_FROM_COLMAP @ centre, VIEWER_FROM_COLMAP @ forward, VIEWER_FROM_COLMAP @ up, depth


def roll_degrees(forward: np.ndarray, up: np.ndarray) -> float | None:
    """How far the viewer's no-roll camera along `forward` turns the photo's `up`; None when
    `forward` is too close to the viewer's up axis to define a heading."""
    if abs(float(forward @ VIEWER_UP)) > MAX_PITCH_COS:
        return None
    level_up = VIEWER_UP - (VIEWER_UP @ forward) * forward
    level_up /= np.linalg.norm(level_up)
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(level_up, up))), float(level_up @ up)))


def initial_camera(sparse_dir: Path, test_every: int = 8) -> dict[str, Any] | None:
    """`{"position", "target", "fov", "photo", "roll_deg"}` for the viewer's settings, or None
    when the model cannot be read or no training photo gives a level view."""
    import pycolmap

    try:
        model = pycolmap.Reconstruction(str(sparse_dir))
    except Exception:  # noqa: BLE001 - no model, no chosen view: the viewer frames the scene itself
        return None
    images = sorted((image for image in model.images.values() if image.has_pose), key=lambda image: image.name)
    training = [image for index, image in enumerate(images) if index % test_every != 0]
    points = np.array([point.xyz for point in model.points3D.values()], dtype=np.float64).reshape(-1, 3)
    best: tuple[float, Any] | None = None
    for image in training:
        pose = image.cam_from_world()
        rotation, translation = np.asarray(pose.rotation.matrix()), np.asarray(pose.translation)
        position, forward, up, depth = viewer_pose(rotation, translation, points)
        roll = roll_degrees(forward, up)
        if roll is None:
            continue
        if best is None or roll < best[0]:
            camera = model.cameras[image.camera_id]
            fy = float(camera.calibration_matrix()[1, 1])
            fov = math.degrees(2.0 * math.atan2(camera.height / 2.0, fy))
            best = (roll, {
                "position": position.tolist(),
                "target": (position + depth * forward).tolist(),
                "fov": round(fov, 3),
                "photo": image.name,
                "roll_deg": round(roll, 2),
            })  # fmt: skip
    return None if best is None else best[1]
