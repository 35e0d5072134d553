"""Geodesy and similarity alignment: WGS84 <-> ECEF <-> local east-north-up (ENU), Umeyama.

Pure numpy, shared by geo-referencing (program), pose evaluation (tests, bench) and the
synthetic scene renderer (which writes GPS EXIF from ENU camera centres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WGS84_A = 6378137.0  # semi-major axis, metres
WGS84_F = 1.0 / 298.257223563  # flattening
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)  # first eccentricity squared


def wgs84_to_ecef(lla: np.ndarray) -> np.ndarray:
    """lla: [N, 3] (lat deg, lon deg, alt m) -> ECEF [N, 3] metres."""
    lla = np.atleast_2d(np.asarray(lla, dtype=np.float64))
    lat, lon, alt = np.radians(lla[:, 0]), np.radians(lla[:, 1]), lla[:, 2]
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    x = (n + alt) * np.cos(lat) * np.cos(lon)
    y = (n + alt) * np.cos(lat) * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + alt) * np.sin(lat)
    return np.stack([x, y, z], axis=1)


def ecef_to_wgs84(ecef: np.ndarray) -> np.ndarray:
    """ECEF [N, 3] -> lla [N, 3] (lat deg, lon deg, alt m); iterative, sub-millimetre."""
    ecef = np.atleast_2d(np.asarray(ecef, dtype=np.float64))
    x, y, z = ecef[:, 0], ecef[:, 1], ecef[:, 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))
    alt = np.zeros_like(lat)
    for _ in range(8):
        n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
        alt = p / np.cos(lat) - n
        lat = np.arctan2(z, p * (1.0 - WGS84_E2 * n / (n + alt)))
    return np.stack([np.degrees(lat), np.degrees(lon), alt], axis=1)


def enu_basis(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Rows are the east, north and up unit vectors in ECEF at (lat, lon): [3, 3]."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])


def wgs84_to_enu(lla: np.ndarray, origin: tuple[float, float, float]) -> np.ndarray:
    """lla [N, 3] -> ENU [N, 3] metres around origin (lat, lon, alt)."""
    ecef = wgs84_to_ecef(lla)
    ecef0 = wgs84_to_ecef(np.array([origin]))[0]
    return (ecef - ecef0) @ enu_basis(origin[0], origin[1]).T


def enu_to_wgs84(enu: np.ndarray, origin: tuple[float, float, float]) -> np.ndarray:
    """ENU [N, 3] metres around origin -> lla [N, 3]."""
    enu = np.atleast_2d(np.asarray(enu, dtype=np.float64))
    ecef0 = wgs84_to_ecef(np.array([origin]))[0]
    return ecef_to_wgs84(enu @ enu_basis(origin[0], origin[1]) + ecef0)


@dataclass(frozen=True)
class Similarity:
    """dst ~= scale * rotation @ src + translation."""

    scale: float
    rotation: np.ndarray  # [3, 3]
    translation: np.ndarray  # [3]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """points [N, 3] -> [N, 3]."""
        return self.scale * np.asarray(points) @ self.rotation.T + self.translation


def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> Similarity:
    """Least-squares similarity taking src [N, 3] onto dst [N, 3] (Umeyama 1991); N >= 3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[0] < 3:
        raise ValueError(f"umeyama needs two [N>=3, 3] arrays, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)  # [3, 3]
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0
    rotation = u @ np.diag(d) @ vt
    var_s = (xs**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s) if with_scale and var_s > 0 else 1.0
    translation = mu_d - scale * rotation @ mu_s
    return Similarity(scale=scale, rotation=rotation, translation=translation)


# DJI gimbal attitude (XMP drone-dji:GimbalYawDegree / GimbalPitchDegree / GimbalRollDegree):
# yaw clockwise from north, pitch 0 at the horizon and -90 straight down, roll positive when the
# image's right side dips. The camera (OpenCV axes: x right, y down, z forward) at yaw = pitch =
# roll = 0 looks north with x east: world_from_camera = Rz(-yaw) @ Rx(pitch) @ Ry(roll) @ BASE
# in ENU, each rotation about the fixed east (x), north (y) or up (z) axis.
_CAMERA_AT_ZERO_ATTITUDE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # columns x, y, z


def _axis_rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out = np.eye(3)
    out[i, i], out[i, j], out[j, i], out[j, j] = c, -s, s, c
    return out


def rotation_from_dji_attitude(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """World (ENU) from camera (OpenCV axes) rotation [3, 3] for a DJI gimbal attitude in degrees."""
    yaw, pitch, roll = np.radians([yaw_deg, pitch_deg, roll_deg])
    turn = _axis_rotation(2, -yaw) @ _axis_rotation(0, pitch) @ _axis_rotation(1, roll)
    return turn @ _CAMERA_AT_ZERO_ATTITUDE


def dji_attitude_from_rotation(world_from_camera: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of a world (ENU) from camera rotation [3, 3]; inverse of the above.

    Straight down (pitch -90) yaw and roll turn about the same axis: roll is then reported as 0.
    """
    m = np.asarray(world_from_camera, dtype=np.float64) @ _CAMERA_AT_ZERO_ATTITUDE.T  # Rz Rx Ry
    pitch = np.arctan2(m[2, 1], np.hypot(m[0, 1], m[1, 1]))
    if np.hypot(m[0, 1], m[1, 1]) < 1e-9:
        yaw, roll = -np.arctan2(m[1, 0], m[0, 0]), 0.0
    else:
        yaw, roll = -np.arctan2(-m[0, 1], m[1, 1]), np.arctan2(-m[2, 0], m[2, 2])
    yaw_deg = (np.degrees(yaw) + 180.0) % 360.0 - 180.0
    return float(yaw_deg), float(np.degrees(pitch)), float(np.degrees(roll))
