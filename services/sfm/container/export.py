"""Undistort to the layout 3DGS trainers read: `images/` (pinhole) and `sparse/0/` (COLMAP binary)."""

from __future__ import annotations

import shutil
from pathlib import Path

MODEL_FILES = ("cameras.bin", "images.bin", "points3D.bin", "rigs.bin", "frames.bin")


def export_undistorted(
    model_dir: Path, image_dir: Path, out_dir: Path, num_threads: int = -1, max_image_size: int | None = None
) -> None:
    """Undistort the model in model_dir (and its images) into out_dir/images and out_dir/sparse/0,
    downscaling to at most `max_image_size` pixels on the long side when given."""
    import pycolmap

    staging = out_dir / ".undistort"
    shutil.rmtree(staging, ignore_errors=True)
    options = pycolmap.UndistortCameraOptions()
    if max_image_size is not None:
        options.max_image_size = max_image_size
    pycolmap.undistort_images(
        staging, model_dir, image_dir, output_type="COLMAP", undistort_options=options, num_threads=num_threads
    )
    images_out = out_dir / "images"
    sparse_out = out_dir / "sparse" / "0"
    shutil.rmtree(images_out, ignore_errors=True)
    shutil.rmtree(out_dir / "sparse", ignore_errors=True)
    sparse_out.mkdir(parents=True)
    shutil.move(str(staging / "images"), images_out)
    for name in MODEL_FILES:
        if (staging / "sparse" / name).exists():
            shutil.move(str(staging / "sparse" / name), sparse_out / name)
    shutil.rmtree(staging)
