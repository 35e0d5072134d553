"""How far decoded attributes are from the originals (the codec's own error, per attribute)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from services.compress.container.splats import Splats, sigmoid, unit_quats


class CodecError(BaseModel):
    positions_max_abs: float  # world units, largest per-axis error
    positions_mean_abs: float  # world units, mean per-axis error
    rotation_p50_deg: float  # angle between original and decoded rotation, median
    rotation_max_deg: float
    log_scale_rms: float  # ln(sigma) units
    log_scale_max_abs: float
    sh0_rms: float  # DC SH coefficient units (colour = 0.5 + 0.2821 * sh0)
    sh0_max_abs: float
    opacity_rms: float  # opacity after sigmoid, in [0, 1]
    opacity_max_abs: float
    sh_rest_rms: float  # higher-order SH coefficients (0 when none are kept)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _max_abs(x: np.ndarray) -> float:
    return float(np.abs(x).max()) if x.size else 0.0


def quat_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle between unit w,x,y,z quaternions a [N, 4] and b [N, 4], degrees in [0, 180].

    2 atan2(|v|, |w|) of the relative quaternion conj(a) b: accurate at every angle, unlike
    2 arccos(|a . b|), which loses half the digits for nearly equal rotations.
    """
    w = (a * b).sum(axis=1)  # [N]
    v = a[:, :1] * b[:, 1:] - b[:, :1] * a[:, 1:] - np.cross(a[:, 1:], b[:, 1:])  # [N, 3]
    return np.degrees(2.0 * np.arctan2(np.linalg.norm(v, axis=1), np.abs(w)))


def codec_error(original: Splats, decoded: Splats) -> CodecError:
    """Per-attribute error of `decoded` against `original` (same splats, same order)."""
    if len(original) != len(decoded):
        raise ValueError(f"codec error: {len(original)} original splats, {len(decoded)} decoded")
    dpos = decoded.means.astype(np.float64) - original.means
    angle = quat_angle_deg(unit_quats(original.quats), unit_quats(decoded.quats))
    dscale = decoded.log_scales.astype(np.float64) - original.log_scales
    dsh0 = decoded.sh0.astype(np.float64) - original.sh0
    dopacity = sigmoid(decoded.opacities) - sigmoid(original.opacities)
    if decoded.sh_coeffs == original.sh_coeffs:
        dsh = decoded.sh_rest.astype(np.float64) - original.sh_rest
    else:
        dsh = original.sh_rest.astype(np.float64)  # dropped SH: the whole signal is the error
    return CodecError(
        positions_max_abs=_max_abs(dpos),
        positions_mean_abs=float(np.abs(dpos).mean()),
        rotation_p50_deg=float(np.median(angle)),
        rotation_max_deg=float(angle.max()),
        log_scale_rms=_rms(dscale),
        log_scale_max_abs=_max_abs(dscale),
        sh0_rms=_rms(dsh0),
        sh0_max_abs=_max_abs(dsh0),
        opacity_rms=_rms(dopacity),
        opacity_max_abs=_max_abs(dopacity),
        sh_rest_rms=_rms(dsh),
    )
