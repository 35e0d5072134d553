"""Camera solving: incremental (COLMAP) or global (GLOMAP) mapping; keep the largest model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, assert_never

from services.sfm.container.config import Config

if TYPE_CHECKING:
    import pycolmap


def reconstruct(database: Path, image_dir: Path, work_dir: Path, cfg: Config) -> pycolmap.Reconstruction | None:
    """Run the configured mapper; the model with most registered images (None if nothing)."""
    import pycolmap

    pycolmap.set_random_seed(cfg.seed)
    work_dir.mkdir(parents=True, exist_ok=True)
    if cfg.mapper == "incremental":
        options = pycolmap.IncrementalPipelineOptions()
        options.num_threads = cfg.num_threads
        options.random_seed = cfg.seed
        options.min_model_size = 3
        options.min_num_matches = cfg.min_pair_inliers
        options.mapper.abs_pose_min_num_inliers = cfg.abs_pose_min_inliers
        options.mapper.abs_pose_min_inlier_ratio = cfg.abs_pose_min_inlier_ratio
        models = pycolmap.incremental_mapping(database, image_dir, work_dir, options=options)
    elif cfg.mapper == "global":
        options = pycolmap.GlobalPipelineOptions()
        options.num_threads = cfg.num_threads
        options.random_seed = cfg.seed
        options.min_num_matches = cfg.min_pair_inliers
        options.mapper.global_positioning.use_gpu = False
        options.mapper.bundle_adjustment.ceres.use_gpu = False
        models = pycolmap.global_mapping(database, image_dir, work_dir, options=options)
    else:
        assert_never(cfg.mapper)
    if not models:
        return None
    return max(models.values(), key=lambda rec: (rec.num_reg_images(), rec.num_points3D()))


def refine_principal_point(
    reconstruction: pycolmap.Reconstruction, cfg: Config
) -> tuple[pycolmap.Reconstruction, bool]:
    """Final bundle adjustment that also frees the principal point; the input model if it wanders off.

    Mappers keep the principal point at the image centre; real lenses are off by ~1% (8 px on
    fountain_p11), which otherwise shows up as a constant ~0.4 deg tilt of every camera.
    Returns (model to keep, whether the refinement was kept).
    """
    import pycolmap

    refined = pycolmap.Reconstruction(reconstruction)
    options = pycolmap.BundleAdjustmentOptions()
    options.refine_principal_point = True
    options.print_summary = False
    options.ceres.solver_options.num_threads = cfg.num_threads
    pycolmap.bundle_adjustment(refined, options)
    if refined.compute_mean_reprojection_error() > 1.01 * reconstruction.compute_mean_reprojection_error():
        return reconstruction, False
    for camera in refined.cameras.values():
        for idx, size in zip(camera.principal_point_idxs(), (camera.width, camera.height), strict=True):
            if abs(camera.params[idx] - size / 2) > cfg.max_principal_point_offset * size:
                return reconstruction, False
    return refined, True
