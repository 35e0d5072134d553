"""The focal length: an EXIF measurement held, unless the photos pin it down better than EXIF does.

Over flat ground seen from above, focal length and flying height trade off almost freely: the
solve can drift 15 % and stretch the scene in depth without raising the reprojection error. So
a focal length from EXIF (services.sfm.container.photos.focal_prior_px) is treated as a
measurement with PRIOR_REL_SIGMA relative error. The criterion is the focal's standard deviation
in a bundle adjustment of the photos alone (focal and principal point free), from the inverse
of its Gauss-Newton information (pycolmap.estimate_ba_covariance; Hartley & Zisserman 2004,
section 5.2.3, at PIXEL_SIGMA reprojection noise): the focal is refined where that standard
deviation is at most REFINE_MAX_REL_STD (strong relief, oblique views) and held at the prior
everywhere else. A guessed focal (no EXIF) is always refined.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pycolmap

TRUSTED_SOURCES = frozenset({"exif_sensor", "exif_35mm"})  # Photo.focal_source values that measure
PRIOR_REL_SIGMA = 0.02  # 1-sigma relative error of an EXIF focal (35 mm rounding, sensor tables)
REFINE_MAX_REL_STD = 0.01  # refine when the photos alone give the focal to 1 % (half the prior's)
PIXEL_SIGMA = 1.0  # reprojection noise the precision is computed for, px (COLMAP's working assumption)
# The principal point is refined (mappers keep it centred) only when the photos pin it to 0.2 % of
# the longest side (3 px at 1600): over flat ground seen from above a shifted principal point is
# indistinguishable from tilted cameras, and refining it there tilts every camera by degrees.
PRINCIPAL_POINT_MAX_STD = 0.002
MIN_POSE_POINTS = 10  # photos with fewer 3D points keep their pose in the precision estimate
DISAGREE_SIGMAS = 3.0  # a refined focal this many combined sigmas from EXIF is worth a warning


@dataclass(frozen=True)
class FocalDecision:
    """What happened to one camera's focal length (pixels of the working copies)."""

    camera_id: int
    source: str  # Photo.focal_source: exif_sensor, exif_35mm or prior
    prior_px: float  # the focal the solve started from
    final_px: float  # the focal in the delivered model
    held: bool  # kept at prior_px during mapping and the final bundle adjustment
    rel_std: float | None  # relative 1-sigma focal precision from the photos alone; None if not measured

    def to_json(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Precision:
    """1-sigma precision of a camera's intrinsics from the photos alone (at PIXEL_SIGMA noise)."""

    focal_rel: float  # std(focal) / focal; inf when not observable
    principal_point_px: float  # larger std of cx, cy in pixels; inf when not observable or not free


def intrinsics_precision(model: pycolmap.Reconstruction, num_threads: int,
                         principal_point: bool) -> dict[int, Precision]:
    """{camera_id: Precision} from the Gauss-Newton covariance of a bundle adjustment of the photos alone.

    Evaluated at the model as it is (no solve): focal and distortion free, the principal point
    free if `principal_point`, the gauge fixed on two cameras (the intrinsics do not depend on
    it). inf where the covariance cannot be computed (rank-deficient: not observable at all).
    """
    import pycolmap

    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    options.refine_focal_length = True
    options.refine_principal_point = principal_point
    options.ceres.solver_options.num_threads = num_threads
    config = pycolmap.BundleAdjustmentConfig()
    for image_id in model.reg_image_ids():
        config.add_image(image_id)
        image = model.image(image_id)
        if image.num_points3D < MIN_POSE_POINTS:  # a pose these few points cannot fix: held, not a degeneracy
            config.set_constant_rig_from_world_pose(image.frame_id)
    config.fix_gauge(pycolmap.BundleAdjustmentGauge.TWO_CAMS_FROM_WORLD)
    adjuster = pycolmap.create_default_ceres_bundle_adjuster(options, config, model)
    level = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = 2  # rank deficiency is an answer here (not observable), not a warning
    try:
        covariance = pycolmap.estimate_ba_covariance(pycolmap.BACovarianceOptions(), model, adjuster)
    finally:
        pycolmap.logging.minloglevel = level
    out = {}
    for camera_id, camera in model.cameras.items():
        block = covariance.get_other_params_cov(camera.params) if covariance is not None else None
        pp_idxs = list(camera.principal_point_idxs())
        free = [i for i in range(len(camera.params)) if principal_point or i not in pp_idxs]
        if block is None or block.shape[0] != len(free) or not np.all(np.isfinite(block)):
            out[camera_id] = Precision(float("inf"), float("inf"))
            continue
        std = np.sqrt(np.maximum(np.diag(block), 0.0)) * PIXEL_SIGMA  # [len(free)], px
        f_idx = camera.focal_length_idxs()[0]
        focal_rel = float(std[free.index(f_idx)] / camera.params[f_idx])
        pp_std = float(max(std[free.index(i)] for i in pp_idxs)) if principal_point else float("inf")
        out[camera_id] = Precision(focal_rel, pp_std)
    return out


def decide(priors: dict[int, tuple[float, str]], precision: dict[int, Precision]) -> dict[int, bool]:
    """{camera_id: held} from {camera_id: (prior_px, source)} and the photos' intrinsics precision."""
    unknown = Precision(float("inf"), float("inf"))
    return {cid: source in TRUSTED_SOURCES and not precision.get(cid, unknown).focal_rel <= REFINE_MAX_REL_STD
            for cid, (_, source) in priors.items()}


def principal_point_observable(precision: dict[int, Precision], sizes: dict[int, int]) -> bool:
    """True when every camera's principal point is pinned to PRINCIPAL_POINT_MAX_STD of its longest side."""
    return bool(precision) and all(
        p.principal_point_px <= PRINCIPAL_POINT_MAX_STD * sizes[cid] for cid, p in precision.items())


def hold_focal(model: pycolmap.Reconstruction, focal_px: dict[int, float]) -> None:
    """Set the named cameras' focal length (in place), keeping their other parameters."""
    for camera_id, focal in focal_px.items():
        camera = model.cameras[camera_id]
        params = np.array(camera.params)
        for idx in camera.focal_length_idxs():
            params[idx] = focal
        camera.params = params


def disagreements(decisions: list[FocalDecision]) -> list[str]:
    """Warnings for refined focal lengths far from their EXIF value."""
    out = []
    for d in decisions:
        if d.held or d.source not in TRUSTED_SOURCES:
            continue
        change = d.final_px / d.prior_px - 1.0
        sigma = float(np.hypot(PRIOR_REL_SIGMA, d.rel_std or 0.0))
        if abs(change) > DISAGREE_SIGMAS * sigma:
            out.append(f"camera {d.camera_id}: the photos give a focal length {change:+.1%} from EXIF "
                       f"({d.final_px:.0f} px vs {d.prior_px:.0f} px); kept the photos' value")
    return out
