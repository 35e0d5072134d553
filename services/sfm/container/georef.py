"""Geo-referencing: a similarity from the model to east-north-up metres fitted to photo GPS, and
the check of a model that the GPS-constrained bundle adjustment already put in ENU.

The fit weighs every coordinate by its GPS sigma (services/sfm/container/gps.py): a photo
without altitude pulls only on the ground plane. Fixes that disagree with the solve far beyond
the others are left out and named; a fit whose residual is far above the modelled GPS accuracy
is refused (the model is then not called geo-referenced).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from services.sfm.container.evaluation import rotation_angle_deg
from services.sfm.container.geo import Similarity, umeyama
from services.sfm.container.gps import GpsTargets

GEOREF_FILE = "georef.json"
TILT_SIGMA_DEG = 2.0  # 1-sigma of a drone gimbal's down direction (IMU pitch and roll)
GIMBAL_MAX_DEG = 10.0  # gimbal down directions this far (median) from the solve's are not used
OUTLIER_FACTOR = 3.0  # a fix whose normalized residual exceeds 3x the median...
OUTLIER_MIN_SIGMAS = 4.0  # ... and 4 sigmas of its own GPS noise is left out of the fit
REFUSE_NORMALIZED = 5.0  # refuse geo-referencing when the RMS residual is 5x the modelled noise


@dataclass(frozen=True)
class Georef:
    origin: tuple[float, float, float]  # lat, lon, alt of the ENU origin
    scale: float  # metres per model unit of the fitted similarity (1 when the solve was in ENU)
    rotation_deg: float  # rotation angle of the fitted similarity (0 when the solve was in ENU)
    residual_m: float  # RMS distance between camera centres and GPS, over the known coordinates
    residual_h_m: float  # ... on the ground plane
    residual_v_m: float  # ... in height, over fixes with altitude (NaN when none)
    normalized_residual: float  # RMS of residual / GPS sigma per known coordinate (~1 when as modelled)
    gps_sigma_m: tuple[float, float]  # modelled GPS noise: median horizontal, vertical 1-sigma
    cameras_used: int
    cameras_with_gps: int
    outliers: dict[str, float] = field(default_factory=dict)  # name -> distance to its GPS, metres
    gimbal_tilt: bool = False  # the drone gimbal's down directions set the tilt with the GPS

    def to_json(self) -> dict:
        return {
            "frame": "ENU",
            "origin": {"lat": self.origin[0], "lon": self.origin[1], "alt": self.origin[2]},
            "scale": self.scale,
            "rotation_deg": self.rotation_deg,
            "residual_m": self.residual_m,
            "residual_h_m": self.residual_h_m,
            "residual_v_m": None if np.isnan(self.residual_v_m) else self.residual_v_m,
            "normalized_residual": self.normalized_residual,
            "gps_sigma_m": {"horizontal": self.gps_sigma_m[0], "vertical": self.gps_sigma_m[1]},
            "cameras_used": self.cameras_used,
            "cameras_with_gps": self.cameras_with_gps,
            "outliers": self.outliers,
            "gimbal_tilt": self.gimbal_tilt,
        }

    def refusal(self) -> str | None:
        """Why this fit must not be trusted as geo-referencing, or None."""
        if self.normalized_residual <= REFUSE_NORMALIZED:
            return None
        return ("not geo-referenced: camera positions and photo GPS disagree by "
                f"{self.residual_m:.1f} m RMS, "
                f"{self.normalized_residual:.0f}x the expected GPS error "
                f"(~{self.gps_sigma_m[0]:.1f} m horizontal, {self.gps_sigma_m[1]:.1f} m vertical)")


def is_well_spread(points: np.ndarray, min_extent_m: float = 1.0) -> bool:
    """Enough spread for a similarity: not all in one spot, not on one line. points [N, 3]."""
    if len(points) < 3:
        return False
    sv = np.linalg.svd(points - points.mean(axis=0), compute_uv=False) / np.sqrt(len(points))
    return bool(sv[0] >= min_extent_m and sv[1] >= 0.05 * sv[0])


def _skew(v: np.ndarray) -> np.ndarray:
    """[N, 3] -> [N, 3, 3] cross-product matrices."""
    out = np.zeros((len(v), 3, 3))
    out[:, 0, 1], out[:, 0, 2], out[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    return out - out.transpose(0, 2, 1)


def _rotation_exp(w: np.ndarray) -> np.ndarray:
    """Rodrigues: rotation vector [3] -> [3, 3]."""
    theta = float(np.linalg.norm(w))
    if theta < 1e-12:
        return np.eye(3)
    k = _skew((w / theta)[None])[0]
    return np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * k @ k


@dataclass(frozen=True)
class Gravity:
    """Where down is, per photo, by the drone's gimbal: a prior on the tilt of the model -> ENU rotation."""

    cam_from_model: np.ndarray  # [M, 3, 3] solved rotations of the photos that have a gimbal attitude
    down_cam: np.ndarray  # [M, 3] unit down vector in each camera frame, from gimbal pitch and roll

    def tilt_errors_deg(self, rotation: np.ndarray) -> np.ndarray:
        """[M] angle between predicted (model -> ENU `rotation`) and gimbal down directions."""
        predicted = self.cam_from_model @ (rotation.T @ DOWN)  # [M, 3]
        cross = np.linalg.norm(np.cross(predicted, self.down_cam), axis=1)
        return np.degrees(np.arctan2(cross, (predicted * self.down_cam).sum(axis=1)))


DOWN = np.array([0.0, 0.0, -1.0])


def fit_similarity(centres: np.ndarray, enu: np.ndarray, sigma: np.ndarray, gravity: Gravity | None = None,
                   iterations: int = 30) -> Similarity:
    """Similarity minimizing sum ((s R c + t - g) / sigma)^2 over known coordinates (Gauss-Newton),
    plus, with `gravity`, sum |down_cam - cam_from_model R^T down|^2 / TILT_SIGMA^2 (the tilt).

    centres [N, 3] model units; enu [N, 3] metres, NaN where unknown; sigma [N, 3] metres.
    Starts from Umeyama on the fixes with altitude; raises ValueError with fewer than 3 of them.
    """
    known = np.isfinite(enu)
    full = known.all(axis=1)
    if full.sum() < 3:
        raise ValueError("a similarity needs 3 GPS fixes with altitude")
    sim = umeyama(centres[full], enu[full])
    scale, rotation, shift = sim.scale, sim.rotation, sim.translation
    sqrt_w = np.where(known, 1.0 / sigma, 0.0).reshape(-1)  # [3N]
    target = np.where(known, enu, 0.0)
    tilt_w = 1.0 / np.radians(TILT_SIGMA_DEG)
    for _ in range(iterations):
        rotated = scale * centres @ rotation.T  # [N, 3]
        residual = ((rotated + shift - target).reshape(-1)) * sqrt_w
        shift_jac = np.broadcast_to(np.eye(3), (len(centres), 3, 3))
        # d/d(rotation vector, log scale, shift), one row per coordinate
        jac = np.concatenate([-_skew(rotated), rotated[:, :, None], shift_jac], axis=2).reshape(-1, 7) * sqrt_w[:, None]
        if gravity is not None and len(gravity.down_cam):
            predicted = gravity.cam_from_model @ (rotation.T @ DOWN)  # [M, 3]
            d_rot = gravity.cam_from_model @ rotation.T @ _skew(DOWN[None])[0]  # [M, 3, 3]
            residual = np.concatenate([residual, ((predicted - gravity.down_cam) * tilt_w).reshape(-1)])
            rows = np.concatenate([d_rot, np.zeros((len(d_rot), 3, 4))], axis=2).reshape(-1, 7) * tilt_w
            jac = np.concatenate([jac, rows])
        step, *_ = np.linalg.lstsq(jac, -residual, rcond=None)
        rotation = _rotation_exp(step[:3]) @ rotation
        scale *= float(np.exp(step[3]))
        shift = shift + step[4:]
        if np.abs(step[:4]).max() < 1e-12 and np.abs(step[4:]).max() < 1e-9 * (1.0 + np.abs(shift).max()):
            break
    return Similarity(scale=scale, rotation=rotation, translation=shift)


def normalized_residuals(sim: Similarity, centres: np.ndarray, enu: np.ndarray,
                         sigma: np.ndarray) -> np.ndarray:
    """[N] per fix: RMS over its known coordinates of (aligned centre - GPS) / sigma."""
    known = np.isfinite(enu)
    ratio = np.where(known, (sim.apply(centres) - np.where(known, enu, 0.0)) / sigma, 0.0)
    return np.sqrt((ratio**2).sum(axis=1) / known.sum(axis=1))


def gps_tilt_sigma_deg(enu: np.ndarray, sigma: np.ndarray) -> float:
    """1-sigma tilt of a GPS-only fit: vertical noise over the narrower horizontal spread of the 3D fixes.

    A plane through points spread by sqrt(sum x^2) along an axis tilts about the other by
    sigma_v / sqrt(sum x^2) radians (least-squares slope); small flights are tilted by degrees.
    """
    full = np.isfinite(enu).all(axis=1)
    ground = enu[full, :2] - enu[full, :2].mean(axis=0)
    spread = float(np.sqrt((ground**2).sum(axis=0)).min())
    return float(np.degrees(np.median(sigma[full, 2]) / spread)) if spread > 0 else 180.0


def fit_enu(centres: np.ndarray, enu: np.ndarray, sigma: np.ndarray,
            gravity: Gravity | None = None) -> tuple[Similarity, np.ndarray, bool]:
    """Weighted similarity model -> ENU, one outlier pass. centres, enu, sigma [N, 3].

    Returns it, the inlier fixes [N], and whether the gimbal's down directions were used (not when
    they disagree with the GPS-only fit by more than GIMBAL_MAX_DEG and 3 sigmas of its tilt: a
    gimbal that reports something else).
    """
    sim = fit_similarity(centres, enu, sigma)
    norm = normalized_residuals(sim, centres, enu, sigma)
    inliers = norm <= max(OUTLIER_FACTOR * float(np.median(norm)), OUTLIER_MIN_SIGMAS)
    full = inliers & np.isfinite(enu).all(axis=1)
    if not (full.sum() >= 3 and is_well_spread(enu[full])):
        inliers = np.ones(len(centres), bool)
    if not inliers.all():
        sim = fit_similarity(centres[inliers], enu[inliers], sigma[inliers])
    if gravity is None or not len(gravity.down_cam):
        return sim, inliers, False
    limit = max(GIMBAL_MAX_DEG, 3.0 * gps_tilt_sigma_deg(enu[inliers], sigma[inliers]))
    if np.median(gravity.tilt_errors_deg(sim.rotation)) > limit:
        return sim, inliers, False
    return fit_similarity(centres[inliers], enu[inliers], sigma[inliers], gravity), inliers, True


def camera_centres(reconstruction, names: list[str]) -> dict[str, np.ndarray]:
    """Centres [3] of the registered images among `names`."""
    wanted = set(names)
    return {im.name: im.projection_center() for im in reconstruction.images.values()
            if im.has_pose and im.name in wanted}


def georeference(reconstruction, targets: GpsTargets, min_images: int) -> Georef | str:
    """Fit the model to GPS (and gimbal tilt) and, unless refused, transform it in place into ENU metres.

    Residuals are those of the aligned model; the fit's scale and rotation say how far the model's
    frame was from ENU (after a GPS-constrained bundle adjustment: a check, near 1 and 0). Returns
    why not, when the GPS cannot support a fit.
    """
    import pycolmap

    centres_by_name = camera_centres(reconstruction, targets.names)
    index = targets.index()
    names = [n for n in targets.names if n in centres_by_name]
    rows = [index[n] for n in names]
    enu, sigma = targets.enu[rows], targets.sigma[rows]
    full = np.isfinite(enu).all(axis=1)
    if full.sum() < min_images:
        return f"GPS with altitude on {int(full.sum())} placed photos, {min_images} needed: not geo-referenced"
    if not is_well_spread(enu[full]):
        return f"GPS on {len(names)} placed photos is too clustered or on one line to geo-reference"
    centres = np.array([centres_by_name[n] for n in names])
    sim, inliers, gimbal_used = fit_enu(centres, enu, sigma, _gravity(reconstruction, targets, names))
    placed = sim.apply(centres)
    known = np.isfinite(enu)
    error = np.where(known, placed - np.where(known, enu, 0.0), 0.0)  # [N, 3], 0 where unknown
    ground = np.linalg.norm(error[:, :2], axis=1)
    used_full = inliers & full
    residual_h = float(np.sqrt((ground[inliers] ** 2).mean()))
    residual_v = float(np.sqrt((error[used_full, 2] ** 2).mean())) if used_full.any() else float("nan")
    ratio = np.where(known, error / sigma, 0.0)[inliers]
    result = Georef(
        origin=targets.origin,
        scale=sim.scale,
        rotation_deg=rotation_angle_deg(sim.rotation),
        residual_m=float(np.sqrt((np.linalg.norm(error[inliers], axis=1) ** 2).mean())),
        residual_h_m=residual_h,
        residual_v_m=residual_v,
        normalized_residual=float(np.sqrt((ratio**2).sum() / known[inliers].sum())),
        gps_sigma_m=targets.typical_sigma(),
        cameras_used=int(inliers.sum()),
        cameras_with_gps=len(names),
        outliers={n: round(float(np.linalg.norm(e)), 2)
                  for n, e, ok in zip(names, error, inliers, strict=True) if not ok},
        gimbal_tilt=gimbal_used,
    )
    if result.refusal() is None:
        rotation = pycolmap.Rotation3d(sim.rotation)
        reconstruction.transform(pycolmap.Sim3d(sim.scale, rotation, sim.translation.reshape(3, 1)))
    return result


def _gravity(reconstruction, targets: GpsTargets, names: list[str]) -> Gravity | None:
    """The gimbal down directions of the named registered photos that have one, with their rotations."""
    index = targets.index()
    images = {im.name: im for im in reconstruction.images.values() if im.has_pose}
    rows = [(images[n].cam_from_world().rotation.matrix(), targets.down_cam[index[n]]) for n in names
            if np.isfinite(targets.down_cam[index[n]]).all()]
    if not rows:
        return None
    return Gravity(np.array([r for r, _ in rows]), np.array([d for _, d in rows]))
