"""The SfM stage on the photo sets of issue #10: cut-out objects (alpha masks), masks/ files, and
two unrelated captures in one folder. Small rendered scenes: seconds each."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pycolmap
import pytest
from PIL import Image

from services.sfm.container.config import Config
from services.sfm.container.evaluation import pose_errors, poses_from_model
from services.sfm.container.export import MASKS_DIR
from services.sfm.container.program import run
from shared.stage import EXIT_OK, FAILURE_FILE, METRICS_FILE, StageName, execute_stage
from spaceport.synthetic import TRUTH_FILE, load_truth, render_scene
from spaceport.synthetic.masks import render_masked_orbit

pytestmark = pytest.mark.slow


def small_cfg() -> Config:
    return Config(max_image_size=480, max_num_features=2048, num_threads=2)


def run_sfm(photos, out) -> dict:
    code = execute_stage(StageName.SFM, run, small_cfg(), photos, out)
    assert code == EXIT_OK, (out / FAILURE_FILE).read_text() if (out / FAILURE_FILE).exists() else code
    return json.loads((out / METRICS_FILE).read_text())


@pytest.fixture(scope="module")
def cut_outs(tmp_path_factory):
    photos = tmp_path_factory.mktemp("cutouts")
    render_masked_orbit(photos, n_images=16, width=480, height=360, seed=3)
    out = tmp_path_factory.mktemp("cutouts_out")
    return photos, out, run_sfm(photos, out)


def test_cut_out_photos_are_placed_and_their_masks_reach_the_output(cut_outs):
    photos, out, metrics = cut_outs
    assert metrics["images_registered"] == 16 and metrics["photos_with_masks"] == 16
    assert metrics["masks_exported"] == 16
    assert any("16 of 16 photos have masks" in w for w in metrics["warnings"])
    errors = pose_errors(poses_from_model(out / "sparse" / "0"), load_truth(photos / TRUTH_FILE).poses())
    assert errors.rotation_median_deg < 1.0 and errors.outliers == ()


def test_no_3d_point_is_seen_in_a_masked_pixel(cut_outs):
    """Features come only from kept pixels (COLMAP's mask_path), so every observation of the
    undistorted model falls inside its undistorted mask."""
    _, out, _ = cut_outs
    model = pycolmap.Reconstruction(str(out / "sparse" / "0"))
    inside = total = 0
    for image in model.images.values():
        keep = np.asarray(Image.open(out / MASKS_DIR / f"{image.name}.png")) > 0
        for point in image.points2D:
            if point.has_point3D():
                x, y = (int(v) for v in np.floor(point.xy))
                inside += bool(keep[min(y, keep.shape[0] - 1), min(x, keep.shape[1] - 1)])
                total += 1
    assert total > 300 and inside == total


def test_undistorted_masks_line_up_with_the_undistorted_images(cut_outs):
    """The cut-outs are black outside the object: the undistorted image is black where its
    undistorted mask says "ignore" and bright where it says "keep"."""
    _, out, _ = cut_outs
    name = sorted(p.name for p in (out / "images").iterdir())[0]
    image = np.asarray(Image.open(out / "images" / name).convert("L"), dtype=np.float32)
    keep = np.asarray(Image.open(out / MASKS_DIR / f"{name}.png")) > 0
    assert image.shape == keep.shape and 0.2 < keep.mean() < 0.9
    assert image[~keep].mean() < 8 and image[keep].mean() > 40


def test_mask_files_beside_jpeg_photos_work_like_alpha(tmp_path):
    render_masked_orbit(tmp_path / "photos", n_images=16, width=320, height=240, seed=3, mask_files=True)
    metrics = run_sfm(tmp_path / "photos", tmp_path / "out")
    assert metrics["images_registered"] == 16 and metrics["photos_with_masks"] == 16


def test_two_captures_in_one_folder_are_named_as_two_groups(tmp_path):
    photos = tmp_path / "photos"
    render_scene("orbit", photos, n_images=16, width=320, height=240, seed=3)
    render_scene("drone", tmp_path / "facade", n_images=11, width=320, height=240, seed=4)
    for jpg in sorted((tmp_path / "facade").glob("*.jpg")):
        shutil.copy(jpg, photos / jpg.name)
    metrics = run_sfm(photos, tmp_path / "out")
    assert metrics["images_in"] == 27 and metrics["images_registered"] == 16
    assert metrics["photo_groups"] == [16, 11]
    assert metrics["unplaced_photos"] == [f"DJI_{k:04d}.jpg" for k in range(1, 12)]
    text = " ".join(metrics["warnings"])
    assert "11 of 27 photos could not be placed" in text and "2 separate groups" in text
