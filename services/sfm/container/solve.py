"""From photos and matches to a metric camera solve: mapper choice, GPS and focal priors inside the
solve, re-triangulation, and the checks of the result (GPS residual, drone gimbal attitude).

    plan = plan_solve(photos, targets, cfg)          # before mapping
    model, mapper = map_photos(database, images, work, cfg, plan)
    model, report = finish_solve(model, database, images, work, photos, targets, plan, cfg, timer)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.sfm.container import focal as focal_rules
from services.sfm.container.config import Config
from services.sfm.container.evaluation import rotation_angle_deg
from services.sfm.container.focal import FocalDecision
from services.sfm.container.geo import rotation_from_dji_attitude
from services.sfm.container.georef import Georef, georeference
from services.sfm.container.gps import GpsTargets, pose_priors
from services.sfm.container.mapping import (
    MapperKind,
    bundle_adjust,
    choose_mapper,
    principal_point_ok,
    reconstruct,
    triangulate_more,
)
from services.sfm.container.photos import Photo
from services.sfm.container.pose_support import SupportCheck, recheck_poses
from shared.wording import plural

if TYPE_CHECKING:
    import pycolmap

ATTITUDE_MAX_DEG = 15.0  # median solved-vs-gimbal orientation difference that flags a wrong solve
GIMBAL_KEYS = ("GimbalYawDegree", "GimbalPitchDegree", "GimbalRollDegree")
MIN_PIXEL_SIGMA = 0.1  # reprojection noise assumed at least this (px) when weighing GPS against it

StepTimer = Callable[[str], AbstractContextManager[None]]


@dataclass(frozen=True)
class SolvePlan:
    mapper: MapperKind  # the mapper run first
    mapper_reason: str
    gps_in_solve: bool  # GPS position priors constrain the (incremental) mapper's bundle adjustments
    hold_focal_while_mapping: bool  # every camera's focal comes from EXIF: mappers keep it


@dataclass
class SolveReport:
    mapper: str  # the mapper whose model was kept
    focal: list[FocalDecision] = field(default_factory=list)
    georef: Georef | None = None  # set when the delivered model is in ENU metres
    georef_refused: str | None = None  # why GPS did not geo-reference the model
    principal_point_refined: bool = False
    points3d_mapped: int = 0  # 3D points before re-triangulation
    attitude_error_deg: float | None = None  # median solved vs DJI gimbal orientation difference
    warnings: list[str] = field(default_factory=list)


def plan_solve(photos: list[Photo], targets: GpsTargets | None, cfg: Config) -> SolvePlan:
    gps = bool(cfg.georeference and targets is not None
               and int(targets.has_altitude.sum()) >= cfg.min_gps_images)
    mapper, reason = choose_mapper(cfg, gps)
    trusted = all(p.focal_source in focal_rules.TRUSTED_SOURCES for p in photos)
    return SolvePlan(mapper, reason, gps and mapper == "incremental", trusted)


def map_photos(database: Path, image_dir: Path, work_dir: Path, cfg: Config,
               plan: SolvePlan) -> tuple[pycolmap.Reconstruction | None, str, SupportCheck]:
    """Run the planned mapper and re-check the poses the points do not support (pose_support.py).

    A global solve is retried incremental when it places fewer than 3 photos, when its model
    contradicts strong verified pairs (wrong pairs swayed the rotation averaging: a masked orbit
    came out with 4 photos turned by 90 deg), or when it still leaves out photos that verified
    pairs link to placed ones (a masked orbit lost a photo its points did not hold, and with it
    the contradicted pair); `_better` decides which model is kept.
    """
    model, check = _mapped(database, image_dir, work_dir, cfg, plan.mapper, plan)
    if plan.mapper != "global":
        return model, plan.mapper, check
    if model is None or model.num_reg_images() < 3:
        why = "global mapping placed fewer than 3 photos"
    elif check.contradicted:
        listed = ", ".join(f"{a} + {b} ({inliers} matches, {shared} shared points)"
                           for a, b, inliers, shared in check.contradicted[:3])
        pairs = plural(len(check.contradicted), "strongly matched photo pair")
        why = f"the global model contradicts {pairs}: {listed}"
    elif check.still_unplaced:
        left_out = plural(len(check.still_unplaced), "photo")
        why = (f"the global model leaves out {left_out} that verified pairs link to placed ones: "
               + ", ".join(check.still_unplaced[:3]))
    else:
        return model, plan.mapper, check
    retry, retry_check = _mapped(database, image_dir, work_dir, cfg, "incremental", plan)
    if retry is not None and _better(retry, retry_check, model, check, cfg):
        retry_check.retried = f"{why}: retried incremental, kept incremental"
        return retry, "incremental", retry_check
    check.retried = f"{why}: retried incremental, kept global"
    return model, plan.mapper, check


def _better(retry: pycolmap.Reconstruction, retry_check: SupportCheck, model: pycolmap.Reconstruction | None,
            check: SupportCheck, cfg: Config) -> bool:
    """Whether the retried model should replace the first: the first placed fewer than 3 photos;
    or it contradicts fewer strong pairs and still places cfg.min_registration_ratio of the first's
    photos (a small right model beats a large wrong one, not a set left mostly unplaced); or it
    contradicts as many and places more."""
    if model is None or model.num_reg_images() < 3:
        return True
    placed, placed_first = retry.num_reg_images(), model.num_reg_images()
    if len(retry_check.contradicted) < len(check.contradicted):
        return placed >= cfg.min_registration_ratio * placed_first
    return len(retry_check.contradicted) == len(check.contradicted) and placed > placed_first


def _mapped(database: Path, image_dir: Path, work_dir: Path, cfg: Config, mapper: MapperKind,
            plan: SolvePlan) -> tuple[pycolmap.Reconstruction | None, SupportCheck]:
    model = reconstruct(database, image_dir, work_dir / mapper, cfg, mapper,
                        use_priors=plan.gps_in_solve and mapper == "incremental",
                        hold_focal=plan.hold_focal_while_mapping)
    if model is None:
        return None, SupportCheck()
    return recheck_poses(model, database, cfg)


def finish_solve(model: pycolmap.Reconstruction, database: Path, image_dir: Path, work_dir: Path,
                 photos: list[Photo], targets: GpsTargets | None, mapper: str, cfg: Config,
                 step: StepTimer) -> tuple[pycolmap.Reconstruction, SolveReport]:
    """Geo-reference, decide each focal, bundle-adjust with GPS priors, add points, check the result."""
    report = SolveReport(mapper=mapper)
    priors = None
    gps = targets if cfg.georeference and targets is not None and targets.names else None
    if gps is not None:
        with step("georeference"):
            fitted = georeference(model, gps, cfg.min_gps_images)
        if isinstance(fitted, str) or fitted.refusal():
            report.georef_refused = fitted if isinstance(fitted, str) else fitted.refusal()
        else:
            priors = _solve_priors(model, gps, fitted) if cfg.gps_bundle_adjustment else []
            report.warnings += _outlier_warnings(fitted)
    with step("map_refine"):
        model = _final_bundle_adjustment(model, photos, priors, cfg, report)
    report.points3d_mapped = model.num_points3D()
    if cfg.triangulate_more:
        with step("map_triangulate"):
            model = triangulate_more(model, database, image_dir, work_dir / "triangulated", cfg)
    if gps is not None and priors is not None:
        # GPS shaped the solve; the last weighted fit (GPS and gimbal tilt) sets the ENU frame, and
        # its scale and rotation say how far the bundle adjustment's own frame was from it.
        with step("georeference"):
            checked = georeference(model, gps, cfg.min_gps_images)
        if isinstance(checked, str) or checked.refusal():
            report.georef_refused = checked if isinstance(checked, str) else checked.refusal()
        else:
            report.georef = checked
    if report.georef_refused:
        report.warnings.append(report.georef_refused)
    if report.georef is not None:
        report.attitude_error_deg, checked_photos = attitude_error_deg(model, photos)
        if report.attitude_error_deg is not None and report.attitude_error_deg > ATTITUDE_MAX_DEG:
            report.warnings.append(
                "solved camera orientations differ from the drone's gimbal attitude by "
                f"{report.attitude_error_deg:.0f} deg (median over {plural(checked_photos, 'photo')}): "
                "the solve or its geo-referencing may be wrong")
    report.warnings += focal_rules.disagreements(report.focal)
    return model, report


def _outlier_warnings(fitted: Georef) -> list[str]:
    if not fitted.outliers:
        return []
    listed = ", ".join(f"{name} ({metres:.0f} m)" for name, metres in list(fitted.outliers.items())[:10])
    photos = plural(len(fitted.outliers), "photo")
    return [f"GPS of {photos} disagrees with the solve and was not used: {listed}"]


def _solve_priors(model: pycolmap.Reconstruction, targets: GpsTargets,
                  fitted: Georef) -> list[pycolmap.PosePrior]:
    """Pose priors for the GPS fixes the fit kept; a fix without altitude borrows the camera's own.

    COLMAP's bundle adjustment counts reprojection errors in pixels as if their sigma were 1 px;
    the GPS covariances are scaled by 1 / sigma_px^2 (sigma_px from the model's mean reprojection
    error, a Rayleigh mean: sigma * sqrt(pi / 2)) so both terms weigh as their noise says. GPS
    worse than its noise model (the fit's normalized residual above 1) has its sigmas scaled by
    that residual (a variance-component estimate), so that it cannot bend the photos' geometry.
    """
    images = {im.name: im for im in model.images.values() if im.has_pose}
    kept = [n for n in targets.names if n in images and n not in fitted.outliers]
    heights = {n: float(images[n].projection_center()[2]) for n in kept}
    sigma_px = max(float(model.compute_mean_reprojection_error()) / np.sqrt(np.pi / 2), MIN_PIXEL_SIGMA)
    gps_scale = max(1.0, fitted.normalized_residual)
    return pose_priors(targets, {n: images[n].data_id for n in kept}, heights,
                       covariance_scale=(gps_scale / sigma_px) ** 2)


def _final_bundle_adjustment(model: pycolmap.Reconstruction, photos: list[Photo],
                             priors: list[pycolmap.PosePrior] | None, cfg: Config,
                             report: SolveReport) -> pycolmap.Reconstruction:
    """Decide which intrinsics the photos can refine, then one bundle adjustment (with GPS priors)."""
    by_name = {p.name: p for p in photos}
    focal_priors: dict[int, tuple[float, str]] = {}
    for image in model.images.values():
        photo = by_name.get(image.name)
        if photo is not None and image.has_pose:
            focal_priors.setdefault(image.camera_id, (photo.focal_px, photo.focal_source))
    sizes = {cid: max(cam.width, cam.height) for cid, cam in model.cameras.items()}
    precision = focal_rules.intrinsics_precision(model, cfg.num_threads, cfg.refine_principal_point)
    refine_pp = cfg.refine_principal_point and focal_rules.principal_point_observable(precision, sizes)
    if cfg.refine_principal_point and not refine_pp:  # not observable: the focal's precision without it
        precision = focal_rules.intrinsics_precision(model, cfg.num_threads, principal_point=False)
    held = focal_rules.decide(focal_priors, precision)
    start = model
    if any(held.values()):
        start = type(model)(model)
        focal_rules.hold_focal(start, {cid: focal_priors[cid][0] for cid, h in held.items() if h})
        start.update_point_3d_errors()
    held_ids = {cid for cid, h in held.items() if h}
    adjusted = bundle_adjust(start, cfg, held_ids, refine_pp, priors)
    report.principal_point_refined = refine_pp and principal_point_ok(start, adjusted, cfg)
    if refine_pp and not report.principal_point_refined:
        report.warnings.append(
            "principal point refinement rejected (drifted or raised the error): kept centred")
        adjusted = bundle_adjust(start, cfg, held_ids, False, priors)
    for cid, (prior_px, source) in sorted(focal_priors.items()):
        rel = precision[cid].focal_rel if cid in precision else float("inf")
        final = float(adjusted.cameras[cid].mean_focal_length())
        report.focal.append(FocalDecision(cid, source, prior_px, final, held[cid], rel if np.isfinite(rel) else None))
    return adjusted


def attitude_error_deg(model: pycolmap.Reconstruction, photos: list[Photo]) -> tuple[float | None, int]:
    """Median angle (deg) between solved orientations (model in ENU) and DJI XMP gimbal attitudes."""
    attitude = {p.name: p.exif.attitude for p in photos if all(k in p.exif.attitude for k in GIMBAL_KEYS)}
    angles = []
    for image in model.images.values():
        values = attitude.get(image.name)
        if values is None or not image.has_pose:
            continue
        gimbal = rotation_from_dji_attitude(*(values[k] for k in GIMBAL_KEYS))  # world from camera
        solved = image.cam_from_world().rotation.matrix()  # camera from world
        angles.append(rotation_angle_deg(solved @ gimbal))
    return (float(np.median(angles)), len(angles)) if angles else (None, 0)


def solve_metrics(report: SolveReport, targets: GpsTargets | None, plan: SolvePlan,
                  retried: str = "") -> dict:
    """The Metrics fields this module decides (`retried`: why map_photos ran a second mapper)."""
    gps = None
    if targets is not None:
        h, v = targets.typical_sigma()
        gps = {
            "used": len(targets.names),
            "excluded": dict(targets.excluded),
            "without_altitude": int((~targets.has_altitude).sum()),
            "noise_sigma_m": {"horizontal": h, "vertical": None if np.isnan(v) else v},
            "noise_sources": targets.noise_sources,
            "refused": report.georef_refused,
            "check": report.georef.to_json() if report.georef is not None else None,
        }
    reason = retried or plan.mapper_reason
    return {
        "mapper_reason": reason,
        "points3d_mapped": report.points3d_mapped,
        "focal": [d.to_json() for d in report.focal],
        "principal_point_refined": report.principal_point_refined,
        "gps": gps,
        "attitude_error_deg": None if report.attitude_error_deg is None else round(report.attitude_error_deg, 3),
    }
