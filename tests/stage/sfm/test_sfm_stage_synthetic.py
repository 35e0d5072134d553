"""The SfM stage end to end on small rendered scenes with known cameras (tolerances, not exact values)."""

import json
import shutil

import numpy as np
import pycolmap
import pytest
from PIL import Image

from services.sfm.container.config import Config
from services.sfm.container.evaluation import pose_errors, poses_from_model
from services.sfm.container.program import run
from shared.causes import CauseCode
from shared.stage import EXIT_INPUT, EXIT_OK, FAILURE_FILE, METRICS_FILE, StageName, execute_stage
from spaceport.synthetic import DRONE_ORIGIN, TRUTH_FILE, load_truth, render_scene

pytestmark = pytest.mark.slow

SIZE = (480, 360)


def small_cfg(**overrides) -> Config:
    return Config(max_image_size=480, max_num_features=2048, num_threads=2, min_images=8, **overrides)


@pytest.fixture(scope="module")
def drone_scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drone")
    render_scene("drone", folder, n_images=10, width=SIZE[0], height=SIZE[1], seed=11)
    (folder / "job.json").write_text('{"note": "not a photo"}')
    return folder


@pytest.fixture(scope="module")
def drone_run(drone_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("drone_out")
    code = execute_stage(StageName.SFM, run, small_cfg(), drone_scene, out)
    return code, out


def test_drone_scene_registers_every_photo_with_accurate_poses(drone_scene, drone_run):
    code, out = drone_run
    assert code == EXIT_OK, (out / FAILURE_FILE).read_text() if (out / FAILURE_FILE).exists() else ""
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["images_in"] == 10
    assert metrics["registration_ratio"] >= 0.9
    assert metrics["points3d"] > 500
    assert metrics["mean_reprojection_error_px"] < 1.0
    assert metrics["matcher"] == "exhaustive"  # 10 photos: every pair
    assert set(metrics["seconds"]) >= {"prepare", "extract", "match", "map", "undistort"}
    errors = pose_errors(poses_from_model(out / "sparse" / "0"), load_truth(drone_scene / TRUTH_FILE).poses())
    assert errors.rotation_median_deg < 0.3
    assert errors.centre_median_rel < 0.01
    assert errors.outliers == ()


def test_drone_scene_output_is_a_pinhole_model_in_enu_metres(drone_scene, drone_run):
    _, out = drone_run
    rec = pycolmap.Reconstruction(str(out / "sparse" / "0"))
    assert {cam.model.name for cam in rec.cameras.values()} == {"PINHOLE"}
    names = {image.name for image in rec.images.values() if image.has_pose}
    assert names == {p.name for p in (out / "images").iterdir()}
    georef = json.loads((out / "georef.json").read_text())
    assert georef["frame"] == "ENU"
    assert georef["residual_m"] < 0.5  # GPS written at mm precision from the true centres
    assert georef["origin"]["lat"] == pytest.approx(DRONE_ORIGIN[0], abs=1e-3)
    # the world frame of the synthetic scene is ENU around DRONE_ORIGIN: camera centres agree
    truth = load_truth(drone_scene / TRUTH_FILE)
    # origins differ by metres (GPS mean vs scene origin): compare offsets between cameras
    est = {im.name: im.projection_center() for im in rec.images.values() if im.has_pose}
    gt = {im.name: im.centre for im in truth.images}
    first, second = sorted(est)[:2]
    np.testing.assert_allclose(est[second] - est[first], gt[second] - gt[first], atol=0.2)


def test_orbit_scene_without_exif_focal_still_works(tmp_path):
    render_scene("orbit", tmp_path / "rendered", n_images=10, width=SIZE[0], height=SIZE[1], seed=5, arc_deg=150)
    plain = tmp_path / "plain"
    plain.mkdir()
    for jpg in sorted((tmp_path / "rendered").glob("*.jpg")):
        Image.open(jpg).save(plain / jpg.name, quality=95)  # re-saved without EXIF
    out = tmp_path / "out"
    code = execute_stage(StageName.SFM, run, small_cfg(), plain, out)
    assert code == EXIT_OK
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["registration_ratio"] >= 0.9
    assert any("no EXIF focal length" in w for w in metrics["warnings"])
    assert not metrics["georeferenced"] and not (out / "georef.json").exists()
    truth = load_truth(tmp_path / "rendered" / TRUTH_FILE)
    errors = pose_errors(poses_from_model(out / "sparse" / "0"), truth.poses())
    assert errors.rotation_median_deg < 0.5 and errors.outliers == ()
    rec = pycolmap.Reconstruction(str(out / "sparse" / "0"))
    focal = next(iter(rec.cameras.values())).params[0]
    assert focal == pytest.approx(truth.fx, rel=0.03)  # refined from the 1.2 x width prior (576 px)


def test_two_cameras_in_one_set_get_two_model_cameras(drone_scene, tmp_path):
    mixed = tmp_path / "mixed"
    shutil.copytree(drone_scene, mixed)
    for jpg in sorted(mixed.glob("*.jpg"))[::2]:  # every other photo from a "second drone" at 400 px
        image = Image.open(jpg)
        exif = image.getexif()
        image.resize((400, 300), Image.Resampling.LANCZOS).save(jpg, quality=95, exif=exif)
    out = tmp_path / "out"
    assert execute_stage(StageName.SFM, run, small_cfg(), mixed, out) == EXIT_OK
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["cameras"] == 2
    assert metrics["registration_ratio"] >= 0.9


def test_unrelated_photos_fail_with_no_overlap(tmp_path):
    photos = tmp_path / "photos"
    for seed in range(8):  # eight different scenes: nothing in common
        render_scene("orbit", tmp_path / f"s{seed}", n_images=1, width=240, height=180, seed=100 + seed)
        photos.mkdir(exist_ok=True)
        shutil.copy(tmp_path / f"s{seed}" / "IMG_0001.jpg", photos / f"p{seed}.jpg")
    # Different seeds share geometry, so scramble each photo's content to leave no common features.
    for k, jpg in enumerate(sorted(photos.glob("*.jpg"))):
        pixels = np.asarray(Image.open(jpg))
        rng = np.random.default_rng(k)
        tiles = pixels.reshape(9, 20, 12, 20, 3).transpose(0, 2, 1, 3, 4).reshape(108, 20, 20, 3)
        tiles = tiles[rng.permutation(108)]
        Image.fromarray(tiles.reshape(9, 12, 20, 20, 3).transpose(0, 2, 1, 3, 4).reshape(180, 240, 3)).save(jpg)
    out = tmp_path / "out"
    assert execute_stage(StageName.SFM, run, small_cfg(), photos, out) == EXIT_INPUT
    body = json.loads((out / FAILURE_FILE).read_text())
    assert body["cause"] == CauseCode.NO_OVERLAP
    assert "photos" in body["message"]


def test_sequential_matching_on_a_shuffled_orbit_falls_back_to_exhaustive(tmp_path):
    """Names out of capture order break a sequential chain; the exhaustive fallback recovers it."""
    render_scene("orbit", tmp_path / "rendered", n_images=10, width=SIZE[0], height=SIZE[1], seed=5, arc_deg=150)
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    order = [0, 5, 9, 2, 7, 4, 8, 1, 6, 3]  # neighbours by name are 50-120 deg apart
    for k, src in enumerate(order):
        shutil.copy(tmp_path / "rendered" / f"IMG_{src + 1:04d}.jpg", shuffled / f"IMG_{k + 1:04d}.jpg")
    out = tmp_path / "out"
    cfg = small_cfg(matcher="sequential", sequential_overlap=1)
    assert execute_stage(StageName.SFM, run, cfg, shuffled, out) == EXIT_OK
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert (metrics["matcher"], metrics["matcher_fallback"]) == ("sequential", "exhaustive")
    assert metrics["registration_ratio"] >= 0.9
    assert "match_fallback" in metrics["seconds"]


def test_incremental_mapper_gives_the_same_cameras(drone_scene, tmp_path):
    assert execute_stage(StageName.SFM, run, small_cfg(mapper="incremental"), drone_scene, tmp_path) == EXIT_OK
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["mapper"] == "incremental" and metrics["registration_ratio"] >= 0.9
    errors = pose_errors(poses_from_model(tmp_path / "sparse" / "0"), load_truth(drone_scene / TRUTH_FILE).poses())
    assert errors.rotation_median_deg < 0.3 and errors.outliers == ()
