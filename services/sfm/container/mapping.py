"""Camera solving: incremental (COLMAP) or global (GLOMAP) mapping, the final bundle adjustment
(GPS pose priors, focal held or refined, principal point) and a denser re-triangulation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, assert_never

from services.sfm.container.config import Config

if TYPE_CHECKING:
    import pycolmap

MapperKind = Literal["incremental", "global"]


def choose_mapper(cfg: Config, gps: bool) -> tuple[MapperKind, str]:
    """The mapper to run first, and why.

    "auto" is global (GLOMAP) for every set. In pycolmap 4.2 only the incremental mapper takes
    position priors, but with them it mapped caliterra 2.5x slower for the same result; GPS enters
    every solve through the pose-prior bundle adjustment after mapping (docs/bench/sfm.md).
    """
    if cfg.mapper != "auto":
        return cfg.mapper, "requested" + (" (GPS position priors in its bundle adjustments)"
                                          if gps and cfg.mapper == "incremental" else "")
    return "global", "default" + ("; GPS enters through the pose-prior bundle adjustment" if gps else "")


def reconstruct(database: Path, image_dir: Path, work_dir: Path, cfg: Config, mapper: MapperKind,
                use_priors: bool = False, hold_focal: bool = False) -> pycolmap.Reconstruction | None:
    """Run `mapper`; the model with most registered images (None if nothing).

    use_priors: the database's pose priors constrain the incremental mapper's bundle adjustments
    (robust loss) and the model comes out aligned to them. hold_focal: every camera keeps the
    focal length it was created with (trusted EXIF values).
    """
    import pycolmap

    pycolmap.set_random_seed(cfg.seed)
    work_dir.mkdir(parents=True, exist_ok=True)
    if mapper == "incremental":
        options = pycolmap.IncrementalPipelineOptions()
        options.num_threads = cfg.num_threads
        options.random_seed = cfg.seed
        options.min_model_size = 3
        options.min_num_matches = cfg.min_pair_inliers
        options.mapper.abs_pose_min_num_inliers = cfg.abs_pose_min_inliers
        options.mapper.abs_pose_min_inlier_ratio = cfg.abs_pose_min_inlier_ratio
        options.ba_refine_focal_length = not hold_focal
        options.use_prior_position = use_priors
        options.use_robust_loss_on_prior_position = True
        models = pycolmap.incremental_mapping(database, image_dir, work_dir, options=options)
    elif mapper == "global":
        options = pycolmap.GlobalPipelineOptions()
        options.num_threads = cfg.num_threads
        options.random_seed = cfg.seed
        options.min_num_matches = cfg.min_pair_inliers
        options.mapper.global_positioning.use_gpu = False
        options.mapper.bundle_adjustment.ceres.use_gpu = False
        options.mapper.bundle_adjustment.refine_focal_length = not hold_focal
        models = pycolmap.global_mapping(database, image_dir, work_dir, options=options)
    else:
        assert_never(mapper)
    if not models:
        return None
    return max(models.values(), key=lambda rec: (rec.num_reg_images(), rec.num_points3D()))


def bundle_adjust(model: pycolmap.Reconstruction, cfg: Config, held: set[int], refine_principal_point: bool,
                  priors: list[pycolmap.PosePrior] | None = None) -> pycolmap.Reconstruction:
    """A bundle-adjusted copy of `model`: cameras in `held` keep their focal length.

    With `priors` (CARTESIAN positions with covariances, in the model's frame) the camera
    centres are pulled towards them under a Cauchy loss (COLMAP's pose-prior bundle adjuster),
    so the solve itself is in their metric frame; without, the gauge is fixed on two cameras.
    """
    import pycolmap

    adjusted = pycolmap.Reconstruction(model)
    pycolmap.ObservationManager(adjusted).filter_observations_with_negative_depth()
    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    options.refine_principal_point = refine_principal_point
    options.ceres.solver_options.num_threads = cfg.num_threads
    # Stop at a 1e-6 relative cost change: with pose priors the gauge is held only by GPS, and
    # Levenberg-Marquardt otherwise crawls along it for 100 iterations (caliterra: 23 s, not 8 s).
    options.ceres.solver_options.function_tolerance = 1e-6
    all_held = held >= set(adjusted.cameras)
    options.refine_focal_length = not all_held
    config = pycolmap.BundleAdjustmentConfig()
    for image_id in adjusted.reg_image_ids():
        config.add_image(image_id)
    if not all_held:
        for camera_id in held:  # the whole camera then stays as it is (per-parameter holds are global)
            config.set_constant_cam_intrinsics(camera_id)
    if priors:
        prior_options = pycolmap.PosePriorBundleAdjustmentOptions()
        prior_options.ceres.prior_position_loss_function_type = pycolmap.LossFunctionType.CAUCHY
        prior_options.alignment_ransac.random_seed = cfg.seed
        adjuster = pycolmap.create_pose_prior_ceres_bundle_adjuster(options, prior_options, config, priors,
                                                                    adjusted)
    else:
        config.fix_gauge(pycolmap.BundleAdjustmentGauge.TWO_CAMS_FROM_WORLD)
        adjuster = pycolmap.create_default_ceres_bundle_adjuster(options, config, adjusted)
    adjuster.solve()
    adjusted.update_point_3d_errors()
    return adjusted


def principal_point_ok(before: pycolmap.Reconstruction, after: pycolmap.Reconstruction, cfg: Config) -> bool:
    """A refined principal point is kept if the error did not rise and it stays near the centre.

    Mappers keep the principal point at the image centre; real lenses are off by ~1% (8 px on
    fountain_p11), which otherwise shows up as a constant ~0.4 deg tilt of every camera.
    """
    if after.compute_mean_reprojection_error() > 1.01 * before.compute_mean_reprojection_error():
        return False
    for camera in after.cameras.values():
        for idx, size in zip(camera.principal_point_idxs(), (camera.width, camera.height), strict=True):
            if abs(camera.params[idx] - size / 2) > cfg.max_principal_point_offset * size:
                return False
    return True


def triangulate_more(model: pycolmap.Reconstruction, database: Path, image_dir: Path, work_dir: Path,
                     cfg: Config) -> pycolmap.Reconstruction:
    """Add the 3D points the mapper left out, poses and intrinsics fixed (COLMAP's point triangulator).

    Mappers keep only points seen in 3+ photos after their outlier filters; for training a dense
    start matters more, so points from two photos are added too (still >= 1.5 deg triangulation
    angle and the mapper's reprojection limits).
    """
    import pycolmap

    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = cfg.num_threads
    options.random_seed = cfg.seed
    options.triangulation.ignore_two_view_tracks = not cfg.two_view_points
    options.triangulation.min_angle = 1.5
    work_dir.mkdir(parents=True, exist_ok=True)
    return pycolmap.triangulate_points(pycolmap.Reconstruction(model), database, image_dir, work_dir,
                                       clear_points=False, options=options, refine_intrinsics=False)
