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


MASKS_DIR = "masks"  # out_dir/masks/<image name>.png: 255 where a pixel counts, 0 where it is ignored


def export_masks(model_dir: Path, mask_dir: Path, out_dir: Path) -> int:
    """Undistort the masks in mask_dir (`<image name>.png`, at the distorted working-copy size)
    the way the images were: out_dir/masks/<image name>.png at the undistorted size; returns how many.

    Each output pixel centre is unprojected with the undistorted (pinhole) camera of
    out_dir/sparse/0 and projected with the distorted camera of model_dir (COLMAP's pixel
    convention: the top-left pixel's centre is (0.5, 0.5)); the mask is sampled at the nearest
    pixel. Pixels that come from outside the photo are ignored.
    """
    import numpy as np
    import pycolmap
    from PIL import Image

    masks_out = out_dir / MASKS_DIR
    shutil.rmtree(masks_out, ignore_errors=True)
    if not mask_dir.is_dir():
        return 0
    distorted = pycolmap.Reconstruction(str(model_dir))
    undistorted = pycolmap.Reconstruction(str(out_dir / "sparse" / "0"))
    source_camera = {image.name: distorted.cameras[image.camera_id] for image in distorted.images.values()}
    written = 0
    for image in undistorted.images.values():
        mask_file = mask_dir / f"{image.name}.png"
        if not mask_file.exists() or image.name not in source_camera:
            continue
        source = np.asarray(Image.open(mask_file).convert("L")) >= 128  # [h, w]
        camera = undistorted.cameras[image.camera_id]
        u, v = np.meshgrid(np.arange(camera.width) + 0.5, np.arange(camera.height) + 0.5)
        rays = camera.cam_from_img(np.stack([u.ravel(), v.ravel()], axis=1))  # [N, 2] normalised
        rays3 = np.concatenate([rays, np.ones((len(rays), 1))], axis=1)
        projected = source_camera[image.name].img_from_cam(rays3, check_cheirality=False)  # [N, 2]
        pixels = np.floor(projected).astype(np.int64)
        h, w = source.shape
        inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < w) & (pixels[:, 1] >= 0) & (pixels[:, 1] < h)
        keep = np.zeros(len(pixels), bool)
        keep[inside] = source[pixels[inside, 1], pixels[inside, 0]]
        masks_out.mkdir(parents=True, exist_ok=True)
        target = masks_out / f"{image.name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(keep.reshape(camera.height, camera.width).astype(np.uint8) * 255).save(target)
        written += 1
    return written
