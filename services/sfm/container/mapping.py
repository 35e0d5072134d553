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
        models = pycolmap.incremental_mapping(database, image_dir, work_dir, options=options)
    elif cfg.mapper == "global":
        options = pycolmap.GlobalPipelineOptions()
        options.num_threads = cfg.num_threads
        options.random_seed = cfg.seed
        options.mapper.global_positioning.use_gpu = False
        options.mapper.bundle_adjustment.ceres.use_gpu = False
        models = pycolmap.global_mapping(database, image_dir, work_dir, options=options)
    else:
        assert_never(cfg.mapper)
    if not models:
        return None
    return max(models.values(), key=lambda rec: (rec.num_reg_images(), rec.num_points3D()))
