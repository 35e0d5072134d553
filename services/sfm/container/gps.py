"""Photo GPS for the solve: which fixes to trust, how wrong each may be, and where they are in ENU.

A fix is used only for what it knows: a photo without altitude constrains its position on the
ground, never its height (its vertical sigma is UNKNOWN_SIGMA_M). Fixes the EXIF marks as
unusable (no N/S reference, 0/0) and fixes kilometres from the rest are left out and named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from services.sfm.container.geo import rotation_from_dji_attitude, wgs84_to_enu
from services.sfm.container.photos import ExifInfo, GpsFix, Photo
from shared.wording import plural

if TYPE_CHECKING:
    import pycolmap

DEFAULT_H_SIGMA_M = 3.0  # consumer GNSS on drones and phones: 1-sigma per horizontal axis
DEFAULT_V_SIGMA_M = 6.0  # GNSS / barometric altitude: about twice worse than horizontal
MIN_SIGMA_M = 0.02  # claims below 2 cm (RTK) are not believed further
UNKNOWN_SIGMA_M = 1.0e4  # sigma of a coordinate the photo does not know: a prior that never pulls
FAR_FIX_M = 1000.0  # a fix farther than this from the others' median position...
FAR_FACTOR = 20.0  # ... and than 20x their median distance to it is a wrong fix, not a photo


@dataclass(frozen=True)
class GpsNoise:
    """1-sigma error model of one photo's GPS position, metres."""

    horizontal_m: float  # per horizontal axis (east, north)
    vertical_m: float  # up
    source: str  # "default", "exif_h_error" (GPSHPositioningError) or "dji_rtk" (XMP RtkStd*)


def gps_noise(exif: ExifInfo) -> GpsNoise:
    """The error model of a photo's fix: DJI RTK sigmas, else EXIF GPSHPositioningError, else defaults."""
    xmp = exif.attitude
    if "RtkStdLon" in xmp and "RtkStdLat" in xmp:
        h = max(abs(xmp["RtkStdLon"]), abs(xmp["RtkStdLat"]), MIN_SIGMA_M)
        v = max(abs(xmp.get("RtkStdHgt", 2.0 * h)), MIN_SIGMA_M)
        return GpsNoise(h, v, "dji_rtk")
    if exif.gps is not None and exif.gps.h_error_m:
        h = max(exif.gps.h_error_m, MIN_SIGMA_M)
        return GpsNoise(h, 2.0 * h, "exif_h_error")
    return GpsNoise(DEFAULT_H_SIGMA_M, DEFAULT_V_SIGMA_M, "default")


@dataclass
class GpsTargets:
    """Usable photo positions in a local east-north-up frame, with per-axis 1-sigma errors."""

    names: list[str]  # working-copy names, one per row below
    enu: np.ndarray  # [N, 3] metres around `origin`; up is NaN where the photo has no altitude
    sigma: np.ndarray  # [N, 3] metres; UNKNOWN_SIGMA_M where the coordinate is unknown
    origin: tuple[float, float, float]  # lat, lon, alt: mean position, lowest known altitude
    # [N, 3] unit down vector in each camera frame from the drone gimbal (gimbal_down); NaN rows if none
    down_cam: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    excluded: dict[str, str] = field(default_factory=dict)  # name -> why its fix is not used
    noise_sources: list[str] = field(default_factory=list)  # distinct GpsNoise.source values

    @property
    def has_altitude(self) -> np.ndarray:
        """[N] bool: the photo's fix has an altitude (a 3D fix)."""
        return np.isfinite(self.enu[:, 2])

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def typical_sigma(self) -> tuple[float, float]:
        """Median (horizontal, vertical) sigma over the fixes that know each."""
        known_v = self.sigma[self.has_altitude, 2]
        return float(np.median(self.sigma[:, 0])), float(np.median(known_v)) if len(known_v) else float("nan")


def gimbal_down(exif: ExifInfo) -> np.ndarray:
    """[3] unit down vector in the camera frame from DJI XMP gimbal angles; NaN without them.

    Only pitch and roll matter (yaw turns about down), so compass errors do not enter.
    """
    keys = ("GimbalYawDegree", "GimbalPitchDegree", "GimbalRollDegree")
    if not all(k in exif.attitude for k in keys):
        return np.full(3, np.nan)
    return rotation_from_dji_attitude(*(exif.attitude[k] for k in keys)).T @ np.array([0.0, 0.0, -1.0])


def _distance_from_median_m(lat_lon: np.ndarray) -> np.ndarray:
    """[N] ground distances (m) of fixes (lat, lon [N, 2]) from their median position."""
    centre = (float(np.median(lat_lon[:, 0])), float(np.median(lat_lon[:, 1])), 0.0)
    flat = wgs84_to_enu(np.column_stack([lat_lon, np.zeros(len(lat_lon))]), centre)[:, :2]
    return np.linalg.norm(flat, axis=1)


def gps_targets(photos: list[Photo]) -> GpsTargets | None:
    """Screen the photos' fixes and place the usable ones in ENU; None when no photo has GPS tags."""
    excluded: dict[str, str] = {}
    candidates: list[tuple[Photo, GpsFix]] = []
    for photo in photos:
        fix = photo.exif.gps
        if fix is not None and fix.usable:
            candidates.append((photo, fix))
        elif fix is not None:
            excluded[photo.name] = fix.problem or "unusable"
    if not candidates and not excluded:
        return None
    kept: list[tuple[Photo, GpsFix]] = []
    if candidates:
        distance = _distance_from_median_m(np.array([(f.lat, f.lon) for _, f in candidates]))
        limit = max(FAR_FIX_M, FAR_FACTOR * float(np.median(distance)))
        for (photo, fix), d in zip(candidates, distance, strict=True):
            if d > limit:
                excluded[photo.name] = f"{d / 1000:.1f} km from the other photos"
            else:
                kept.append((photo, fix))
    if not kept:
        return GpsTargets([], np.zeros((0, 3)), np.zeros((0, 3)), (0.0, 0.0, 0.0), excluded=excluded)
    altitudes = [f.alt for _, f in kept if f.alt is not None]
    origin = (float(np.mean([f.lat for _, f in kept])), float(np.mean([f.lon for _, f in kept])),
              float(min(altitudes)) if altitudes else 0.0)
    enu = wgs84_to_enu(np.array([(f.lat, f.lon, origin[2] if f.alt is None else f.alt) for _, f in kept]), origin)
    noises = [gps_noise(p.exif) for p, _ in kept]
    sigma = np.array([(n.horizontal_m, n.horizontal_m, n.vertical_m) for n in noises])
    no_alt = np.array([f.alt is None for _, f in kept])
    enu[no_alt, 2] = np.nan
    sigma[no_alt, 2] = UNKNOWN_SIGMA_M
    down = np.array([gimbal_down(p.exif) for p, _ in kept])
    return GpsTargets([p.name for p, _ in kept], enu, sigma, origin, down, excluded, sorted({n.source for n in noises}))


def pose_priors(targets: GpsTargets, data_ids: dict[str, pycolmap.data_t], fill_up: dict[str, float] | float,
                covariance_scale: float = 1.0) -> list[pycolmap.PosePrior]:
    """CARTESIAN pose priors (position, covariance x covariance_scale) for the named images.

    A photo without altitude gets `fill_up` (its own solved height, or a common value) as its up
    coordinate with UNKNOWN_SIGMA_M: COLMAP's priors need all three numbers, the sigma makes the
    made-up one weightless.
    """
    import pycolmap

    priors = []
    for i, name in enumerate(targets.names):
        if name not in data_ids:
            continue
        position = targets.enu[i].copy()
        if not np.isfinite(position[2]):
            position[2] = fill_up[name] if isinstance(fill_up, dict) else fill_up
        prior = pycolmap.PosePrior()
        prior.corr_data_id = data_ids[name]
        prior.position = position.reshape(3, 1)
        prior.position_covariance = np.diag(targets.sigma[i] ** 2) * covariance_scale
        prior.coordinate_system = pycolmap.PosePriorCoordinateSystem.CARTESIAN
        priors.append(prior)
    return priors


def describe_exclusions(targets: GpsTargets, limit: int = 10) -> list[str]:
    """Warnings naming the photos whose GPS is not used, and those without altitude."""
    warnings = []
    if targets.excluded:
        listed = ", ".join(f"{name} ({why})" for name, why in list(targets.excluded.items())[:limit])
        more = len(targets.excluded) - limit
        warnings.append(f"GPS of {plural(len(targets.excluded), 'photo')} not used: {listed}"
                        + (f" and {more} more" if more > 0 else ""))
    no_alt = [n for n, known in zip(targets.names, targets.has_altitude, strict=True) if not known]
    if no_alt:
        more = f" and {len(no_alt) - limit} more" if len(no_alt) > limit else ""
        listed = ", ".join(no_alt[:limit]) + more
        warnings.append(f"GPS of {plural(len(no_alt), 'photo')} has no altitude ({listed}): "
                        f"used for {'its' if len(no_alt) == 1 else 'their'} position on the ground only")
    return warnings
