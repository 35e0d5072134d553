"""Reads the SfM stage output (images/ + sparse/0/) into training and held-out views."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycolmap
import torch
from PIL import Image
from torch import Tensor

from services.sfm.container.export import MASKS_DIR
from services.train.container.config import Config
from shared.causes import CauseCode
from shared.stage import StageFailure
from shared.wording import plural

logger = logging.getLogger(__name__)

PINHOLE_MODELS = {"SIMPLE_PINHOLE", "PINHOLE"}


@dataclass
class View:
    name: str
    pixels: Tensor  # [H, W, 3] uint8 (a quarter of the memory of float images)
    K: Tensor  # [3, 3] intrinsics at the training resolution
    viewmat: Tensor  # [4, 4] world to camera (OpenCV axes)
    mask: Tensor | None = None  # [H, W] bool: True where the pixel counts (None: every pixel)

    @property
    def image(self) -> Tensor:
        """[H, W, 3] float32 in [0, 1]."""
        return self.pixels.float() / 255.0

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass
class Scene:
    train: list[View]
    test: list[View]
    points: Tensor  # [P, 3] SfM points
    colors: Tensor  # [P, 3] their colours in [0, 1]
    scene_scale: float  # camera spread radius (x1.1), scales learning rates and size limits


def _find_model(in_dir: Path) -> Path:
    for candidate in (in_dir / "sparse" / "0", in_dir / "sparse", in_dir):
        if (candidate / "cameras.bin").exists() or (candidate / "cameras.txt").exists():
            return candidate
    raise StageFailure(
        CauseCode.DEGENERATE_MODEL, f"no COLMAP model (sparse/0/cameras.bin) under {in_dir.name or in_dir}"
    )


def _load_image(path: Path, max_size: int) -> tuple[Tensor, float, float]:
    """Image [H, W, 3] uint8, downscaled so its longest side <= max_size; returns the x/y factors."""
    with Image.open(path) as img:
        img = img.convert("RGB")
        w, h = img.size
        factor = max(w, h) / max_size
        if factor > 1:
            nw, nh = max(1, round(w / factor)), max(1, round(h / factor))
            img = img.resize((nw, nh), Image.Resampling.LANCZOS)
        else:
            nw, nh = w, h
        array = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(array.copy()), nw / w, nh / h


def _load_mask(path: Path, size: tuple[int, int]) -> Tensor | None:
    """The SfM stage's undistorted mask (masks/<image name>.png, 0 = ignore) at the training size."""
    if not path.exists():
        return None
    with Image.open(path) as mask:
        mask = mask.convert("L")
        if mask.size != size:
            mask = mask.resize(size, Image.Resampling.NEAREST)
        return torch.from_numpy(np.asarray(mask) >= 128)


def load_scene(in_dir: Path, cfg: Config) -> Scene:
    model_dir = _find_model(in_dir)
    try:
        rec = pycolmap.Reconstruction(str(model_dir))
    except Exception as exc:  # noqa: BLE001 - pycolmap raises plain RuntimeError/ValueError
        raise StageFailure(CauseCode.DEGENERATE_MODEL, f"cannot read the COLMAP model: {exc}") from exc
    images = sorted((img for img in rec.images.values() if img.has_pose), key=lambda i: i.name)
    n_points = rec.num_points3D()
    if len(images) < cfg.min_images or n_points < cfg.min_points3d:
        raise StageFailure(
            CauseCode.DEGENERATE_MODEL,
            f"the SfM model has {plural(len(images), 'posed image')} and {plural(n_points, '3D point')}; "
            "training needs at "
            f"least {cfg.min_images} images and {cfg.min_points3d} points",
        )
    image_dir = in_dir / "images"
    views: list[View] = []
    for img in images:
        cam = rec.cameras[img.camera_id]
        if cam.model_name not in PINHOLE_MODELS:
            raise StageFailure(
                CauseCode.DEGENERATE_MODEL,
                f"image {img.name} uses camera model {cam.model_name}; training needs undistorted "
                "PINHOLE images (the SfM stage undistorts them)",
            )
        path = image_dir / img.name
        if not path.exists():
            raise StageFailure(CauseCode.UNREADABLE_IMAGES, f"image {img.name} of the SfM model is missing")
        try:
            pixels, sx, sy = _load_image(path, cfg.max_image_size)
            with Image.open(path) as f:
                fw, fh = f.size
        except OSError as exc:  # PIL's UnidentifiedImageError is an OSError
            raise StageFailure(CauseCode.UNREADABLE_IMAGES, f"image {img.name} cannot be read: {exc}") from exc
        # The model's camera may be at another resolution than the file: scale K to the file.
        K = torch.tensor(cam.calibration_matrix(), dtype=torch.float32)
        K[0] *= sx * fw / cam.width
        K[1] *= sy * fh / cam.height
        view = torch.eye(4, dtype=torch.float32)
        view[:3, :] = torch.tensor(img.cam_from_world().matrix(), dtype=torch.float32)
        height, width = pixels.shape[:2]
        mask = _load_mask(in_dir / MASKS_DIR / f"{img.name}.png", (width, height))
        views.append(View(name=img.name, pixels=pixels, K=K, viewmat=view, mask=mask))
    test = [v for i, v in enumerate(views) if i % cfg.test_every == 0]
    train = [v for i, v in enumerate(views) if i % cfg.test_every != 0]
    xyz = np.array([p.xyz for p in rec.points3D.values()], dtype=np.float32)
    rgb = np.array([p.color for p in rec.points3D.values()], dtype=np.float32) / 255.0
    centres = torch.stack([torch.linalg.inv(v.viewmat)[:3, 3] for v in views])
    spread = (centres - centres.mean(0)).norm(dim=-1).max().item()
    if not math.isfinite(spread) or spread <= 0 or not np.isfinite(xyz).all():
        raise StageFailure(
            CauseCode.DEGENERATE_MODEL,
            f"the SfM model is degenerate: camera spread {spread:.3g} over {len(views)} images",
        )
    logger.info("scene loaded", extra={"train": len(train), "test": len(test), "points": len(xyz)})
    return Scene(
        train=train,
        test=test,
        points=torch.from_numpy(xyz),
        colors=torch.from_numpy(rgb),
        scene_scale=spread * 1.1,
    )
