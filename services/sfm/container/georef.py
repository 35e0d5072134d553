"""Geo-referencing: move the model into a local east-north-up metric frame fitted to photo GPS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.sfm.container.geo import Similarity, umeyama, wgs84_to_enu

GEOREF_FILE = "georef.json"
OUTLIER_FACTOR = 3.0  # a camera whose GPS residual exceeds 3x the median (and 2 m) is left out


@dataclass(frozen=True)
class Georef:
    origin: tuple[float, float, float]  # lat, lon, alt of the ENU origin
    scale: float  # metres per model unit before alignment
    residual_m: float  # RMS distance between aligned camera centres and their GPS positions
    cameras_used: int
    cameras_with_gps: int

    def to_json(self) -> dict:
        return {
            "frame": "ENU",
            "origin": {"lat": self.origin[0], "lon": self.origin[1], "alt": self.origin[2]},
            "scale": self.scale,
            "residual_m": self.residual_m,
            "cameras_used": self.cameras_used,
            "cameras_with_gps": self.cameras_with_gps,
        }


def gps_origin(gps: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """The ENU origin: mean latitude and longitude, lowest altitude (so the scene sits near z >= 0)."""
    lla = np.asarray(gps, dtype=np.float64)
    return float(lla[:, 0].mean()), float(lla[:, 1].mean()), float(lla[:, 2].min())


def gps_positions_enu(gps_by_name: dict[str, tuple[float, float, float]],
                      origin: tuple[float, float, float]) -> dict[str, np.ndarray]:
    names = list(gps_by_name)
    enu = wgs84_to_enu(np.asarray([gps_by_name[n] for n in names]), origin)
    return dict(zip(names, enu, strict=True))


def is_well_spread(points: np.ndarray, min_extent_m: float = 1.0) -> bool:
    """Enough spread for a similarity: not all in one spot, not on one line. points [N, 3]."""
    if len(points) < 3:
        return False
    sv = np.linalg.svd(points - points.mean(axis=0), compute_uv=False) / np.sqrt(len(points))
    return bool(sv[0] >= min_extent_m and sv[1] >= 0.05 * sv[0])


def fit_enu(centres: np.ndarray, enu: np.ndarray) -> tuple[Similarity, np.ndarray]:
    """Similarity model -> ENU from camera centres [N, 3] and GPS ENU [N, 3], one outlier pass.

    Returns the similarity and the inlier mask [N].
    """
    sim = umeyama(centres, enu)
    residual = np.linalg.norm(sim.apply(centres) - enu, axis=1)
    inliers = residual <= max(OUTLIER_FACTOR * float(np.median(residual)), 2.0)
    if inliers.sum() >= 3 and not inliers.all() and is_well_spread(enu[inliers]):
        sim = umeyama(centres[inliers], enu[inliers])
    else:
        inliers = np.ones(len(centres), bool)
    return sim, inliers


def georeference(reconstruction, enu_by_name: dict[str, np.ndarray], origin: tuple[float, float, float],
                 min_images: int) -> Georef | None:
    """Transform `reconstruction` in place into ENU metres; None (untouched) when GPS cannot support it."""
    import pycolmap

    names, centres, targets = [], [], []
    for image in reconstruction.images.values():
        if image.has_pose and image.name in enu_by_name:
            names.append(image.name)
            centres.append(image.projection_center())
            targets.append(enu_by_name[image.name])
    if len(names) < min_images:
        return None
    centres_arr, enu = np.asarray(centres), np.asarray(targets)
    if not is_well_spread(enu):
        return None
    sim, inliers = fit_enu(centres_arr, enu)
    residual = np.linalg.norm(sim.apply(centres_arr[inliers]) - enu[inliers], axis=1)
    transform = pycolmap.Sim3d(sim.scale, pycolmap.Rotation3d(sim.rotation), sim.translation.reshape(3, 1))
    reconstruction.transform(transform)
    return Georef(
        origin=origin,
        scale=sim.scale,
        residual_m=float(np.sqrt((residual**2).mean())),
        cameras_used=int(inliers.sum()),
        cameras_with_gps=len(names),
    )
