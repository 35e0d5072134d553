"""Drone solves right in metres: EXIF focal and noisy GPS inside the solve (rendered scenes, known truth).

Over flat ground seen straight down, focal length and flying height trade off freely; before the
focal was held, such a set either failed (global mapper: every pair a homography) or came out
stretched in depth. GPS cases from real cards: 2D fixes, a fix kilometres away, zero coordinates.
"""

import json
import shutil

import numpy as np
import pycolmap
import pytest

from services.sfm.container.config import Config
from services.sfm.container.evaluation import centre, pose_errors, poses_from_model
from services.sfm.container.geo import dji_attitude_from_rotation
from services.sfm.container.photos import ExifInfo, Photo
from services.sfm.container.program import run
from services.sfm.container.solve import ATTITUDE_MAX_DEG, attitude_error_deg
from shared.stage import EXIT_OK, FAILURE_FILE, METRICS_FILE, StageName, execute_stage
from spaceport.synthetic import TRUTH_FILE, load_truth, render_scene
from spaceport.synthetic.exif import gps_ifd, make_exif, replace_exif
from spaceport.synthetic.render import DroneFlight

pytestmark = pytest.mark.slow

SIZE = (480, 360)
GPS_SIGMA = (1.0, 2.0)  # metres: horizontal, vertical noise written into the EXIF


def small_cfg(**overrides) -> Config:
    return Config(max_image_size=480, max_num_features=2048, num_threads=2, min_images=8, **overrides)


def solve(photos, out, **overrides):
    code = execute_stage(StageName.SFM, run, small_cfg(**overrides), photos, out)
    assert code == EXIT_OK, (out / FAILURE_FILE).read_text() if (out / FAILURE_FILE).exists() else code
    return json.loads((out / METRICS_FILE).read_text())


def flying_height_ratio(model_dir, truth) -> float:
    """Median over photos of (camera height above its reconstructed ground) / (true height); ground z = 0."""
    rec = pycolmap.Reconstruction(str(model_dir))
    poses = truth.poses()
    ratios = []
    for image in rec.images.values():
        zs = [rec.points3D[p.point3D_id].xyz[2] for p in image.points2D if p.has_point3D()]
        ratios.append((image.projection_center()[2] - np.median(zs)) / centre(poses[image.name])[2])
    return float(np.median(ratios))


def assert_metric(out, truth, metrics):
    """Every photo placed, the focal within 3 %, the scene in metres (scale, flying height within 4 %)."""
    assert metrics["images_registered"] == len(truth.images)
    focal = metrics["focal"][0]
    assert focal["final_px"] == pytest.approx(truth.fx, rel=0.03)
    assert metrics["georeferenced"]
    errors = pose_errors(poses_from_model(out / "sparse" / "0"), truth.poses())
    assert errors.scale == pytest.approx(1.0, abs=0.04)  # model metres vs true metres
    assert errors.rotation_median_deg < 0.3
    assert flying_height_ratio(out / "sparse" / "0", truth) == pytest.approx(1.0, abs=0.04)
    check = metrics["gps"]["check"]
    assert check["normalized_residual"] < 1.5  # the residual is what the modelled GPS noise says
    # GPS in the bundle adjustment already put the solve in ENU metres: the last fit barely rescales
    # it (a robust-loss optimum vs a least-squares one, within what 12 noisy fixes tell of the scale).
    assert abs(check["scale"] - 1.0) < 0.03


@pytest.fixture(scope="module")
def flat_scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flat")
    render_scene("drone", folder, n_images=12, width=SIZE[0], height=SIZE[1], seed=11,
                 flight=DroneFlight(terrain="flat", tilt_deg=0.0, gps_sigma_m=GPS_SIGMA, attitude_xmp=True))
    return folder


@pytest.fixture(scope="module")
def flat_run(flat_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("flat_out")
    return out, solve(flat_scene, out)


def test_flat_nadir_survey_holds_the_exif_focal_and_comes_out_in_metres(flat_scene, flat_run):
    out, metrics = flat_run
    truth = load_truth(flat_scene / TRUTH_FILE)
    assert_metric(out, truth, metrics)
    focal = metrics["focal"][0]
    assert focal["held"] and focal["source"] == "exif_35mm" and focal["final_px"] == focal["prior_px"]
    assert metrics["mapper"] == "global" and "pose-prior bundle adjustment" in metrics["mapper_reason"]
    assert metrics["points3d"] > metrics["points3d_mapped"]  # two-view points added for training
    # The gimbal's pitch and roll set the tilt (GPS alone: degrees over a 30 m grid): the solve
    # agrees with the gimbal, and nadir photos look straight down.
    assert metrics["gps"]["check"]["gimbal_tilt"]
    assert metrics["attitude_error_deg"] < 1.0
    rec = pycolmap.Reconstruction(str(out / "sparse" / "0"))
    axes = np.array([im.cam_from_world().rotation.matrix()[2] for im in rec.images.values()])
    assert np.degrees(np.arccos(-np.median(axes[:, 2]))) < 0.5


def test_a_solve_that_disagrees_with_the_gimbal_is_flagged(flat_scene, flat_run):
    out, _ = flat_run
    rec = pycolmap.Reconstruction(str(out / "sparse" / "0"))
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 deg about up
    photos = []
    for image in load_truth(flat_scene / TRUTH_FILE).images:  # a gimbal 90 deg off: as if the solve were turned
        yaw, pitch, roll = dji_attitude_from_rotation(turn @ image.R.T)
        attitude = {"GimbalYawDegree": yaw, "GimbalPitchDegree": pitch, "GimbalRollDegree": roll}
        photos.append(Photo(flat_scene / image.name, image.name, *SIZE, ExifInfo(attitude=attitude), 1.0, "prior"))
    error, count = attitude_error_deg(rec, photos)
    assert count == 12 and error == pytest.approx(90.0, abs=2.0) and error > ATTITUDE_MAX_DEG


def test_two_altitude_survey_over_flat_ground_is_metric(tmp_path):
    photos = tmp_path / "photos"
    render_scene("drone", photos, n_images=12, width=SIZE[0], height=SIZE[1], seed=12,
                 flight=DroneFlight(terrain="flat", tilt_deg=0.0, altitudes_m=(35.0, 55.0), gps_sigma_m=GPS_SIGMA))
    metrics = solve(photos, tmp_path / "out")
    assert_metric(tmp_path / "out", load_truth(photos / TRUTH_FILE), metrics)


def test_gps_from_a_real_card_2d_fixes_a_far_fix_and_zero_coordinates(flat_scene, tmp_path):
    """Every other photo without altitude, one fix 5 km off, one at 0/0: the rest geo-reference it.

    Spatial matching (what large GPS sets get) pairs photos by GPS: the two without a usable fix
    are matched with every photo instead, so all are placed without the exhaustive fallback.
    """
    photos = tmp_path / "photos"
    shutil.copytree(flat_scene, photos)
    truth = load_truth(photos / TRUTH_FILE)
    for k, image in enumerate(truth.images):
        lat, lon, alt = image.gps
        if k == 3:
            lat += 0.045  # 5 km north
        if k == 6:
            lat = lon = 0.0
        exif = make_exif("Spaceport", "Synthetic drone", 24.718, 25, None)
        exif[0x8825] = gps_ifd(lat, lon, None if k % 2 else alt)
        replace_exif(photos / image.name, exif)
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    out = tmp_path / "out"
    metrics = solve(photos, out, matcher="spatial")
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before  # originals untouched
    assert metrics["images_registered"] == 12
    assert (metrics["matcher"], metrics["matcher_fallback"]) == ("spatial", None)
    warnings = " ".join(metrics["warnings"])
    assert "DJI_0004.jpg (5.0 km from the other photos)" in warnings
    assert "DJI_0007.jpg (zero coordinates)" in warnings
    assert "used for their position on the ground only" in warnings
    gps = metrics["gps"]
    assert set(gps["excluded"]) == {"DJI_0004.jpg", "DJI_0007.jpg"}
    assert gps["used"] == 10 and gps["without_altitude"] == 5  # photos 2, 6, 8, 10, 12 (4 is excluded)
    georef = json.loads((out / "georef.json").read_text())
    assert georef["origin"]["alt"] > 400.0  # the lowest known altitude, never 0 from a missing one
    errors = pose_errors(poses_from_model(out / "sparse" / "0"), truth.poses())
    assert errors.scale == pytest.approx(1.0, abs=0.05)
    rec = pycolmap.Reconstruction(str(out / "sparse" / "0"))
    down = [im.cam_from_world().rotation.matrix()[2] for im in rec.images.values()]  # optical axes in ENU
    # Up is up: nadir photos look down, to the few degrees 2 m vertical GPS noise on 5 fixes allows
    # (reading missing altitudes as 0 m tilted the frame by ~40 deg).
    assert np.median([np.degrees(np.arccos(-d[2])) for d in down]) < 10.0


def test_gps_that_contradicts_the_photos_does_not_geo_reference(flat_scene, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(flat_scene, photos)
    truth = load_truth(photos / TRUTH_FILE)
    rng = np.random.default_rng(0)
    for image in truth.images:  # each fix somewhere within ~150 m: a logger out of sync with the camera
        lat, lon, alt = image.gps
        exif = make_exif("Spaceport", "Synthetic drone", 24.718, 25, None)
        exif[0x8825] = gps_ifd(lat + rng.uniform(-7e-4, 7e-4), lon + rng.uniform(-1e-3, 1e-3), alt)
        replace_exif(photos / image.name, exif)
    out = tmp_path / "out"
    metrics = solve(photos, out)
    assert metrics["images_registered"] == 12
    assert not metrics["georeferenced"] and not (out / "georef.json").exists()
    refusal = next(w for w in metrics["warnings"] if "not geo-referenced" in w)
    assert "m RMS" in refusal and metrics["gps"]["refused"] == refusal
