"""Issue 16's rows on rendered scenes: capture faults are named, and failures blame what was measured.

Each fault is rebuilt on a small synthetic orbit (spaceport.synthetic.degrade): EXIF focal tags
rewritten, every pixel darkened, every other photo shaken. The SfM stage runs end to end.
"""

import json

import pytest

from services.sfm.container import program
from services.sfm.container.config import Config
from services.sfm.container.evaluation import pose_errors, poses_from_model
from shared.causes import CauseCode
from shared.stage import EXIT_INPUT, EXIT_OK, FAILURE_FILE, METRICS_FILE, StageName, execute_stage
from spaceport.synthetic import TRUTH_FILE, load_truth, render_scene
from spaceport.synthetic.degrade import darken, degrade_folder, motion_blur, retag_folder

pytestmark = pytest.mark.slow

N = 12


@pytest.fixture(scope="module")
def orbit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("orbit")
    render_scene("orbit", folder, n_images=N, width=480, height=360, seed=5, arc_deg=165)
    truth = load_truth(folder / TRUTH_FILE)
    (folder / TRUTH_FILE).unlink()
    return folder, truth


def solve(photos, out):
    cfg = Config(max_image_size=480, max_num_features=2048, num_threads=2, min_images=8)
    code = execute_stage(StageName.SFM, program.run, cfg, photos, out)
    if code != EXIT_OK:
        return code, json.loads((out / FAILURE_FILE).read_text())
    return code, json.loads((out / METRICS_FILE).read_text())


def warning_with(metrics, text):
    found = [w for w in metrics["warnings"] if text in w]
    assert found, metrics["warnings"]
    return found[0]


def test_the_clean_scene_raises_no_capture_warning(orbit, tmp_path):
    code, metrics = solve(orbit[0], tmp_path / "out")
    assert code == EXIT_OK and metrics["images_registered"] == N
    assert not any(metrics["capture"].values()), metrics["capture"]
    figures = json.loads((tmp_path / "out" / "capture.json").read_text())
    assert len(figures["photos"]) == N and all(p["features"] > 300 for p in figures["photos"])


@pytest.mark.parametrize(("f35", "focal_mm", "why"), [
    (1, None, "FocalLengthIn35mmFilm 1 mm is outside 8-2000 mm"),  # action-camera style bogus tag
    (1000, None, "imply a crop factor of 33"),  # 1000 mm with the scene's 30 mm focal length
])
def test_a_bogus_35mm_tag_is_ignored_with_a_warning_and_the_solve_is_right(orbit, tmp_path, f35, focal_mm, why):
    photos, truth = orbit
    retag_folder(photos, tmp_path / "photos", f35, focal_mm)
    code, metrics = solve(tmp_path / "photos", tmp_path / "out")
    assert code == EXIT_OK and metrics["images_registered"] == N
    warning = warning_with(metrics, "implausible EXIF focal tags ignored on 12 of 12 photos")
    assert why in warning and "default guess" in warning and "IMG_0001.jpg" in warning
    assert len(metrics["capture"]["focal_tags_ignored"]) == N
    assert not any("no EXIF focal length" in w for w in metrics["warnings"])  # said once, with the reason
    errors = pose_errors(poses_from_model(tmp_path / "out" / "sparse" / "0"), truth.poses())
    assert errors.rotation_median_deg < 0.5


def test_pairs_that_verify_without_a_model_blame_the_camera_prior_not_overlap(orbit, tmp_path):
    """Plausible but wrong tags (1000 mm on a 1000 mm lens: crop factor 1) pass the check."""
    retag_folder(orbit[0], tmp_path / "photos", 1000, 1000.0)
    code, failure = solve(tmp_path / "photos", tmp_path / "out")
    assert code == EXIT_INPUT
    assert failure["cause"] == CauseCode.CAMERA_GEOMETRY
    assert "they do overlap" in failure["message"] and "EXIF 35 mm equivalent focal length" in failure["message"]
    assert "focal-length tags" in failure["advice"]


@pytest.mark.parametrize("factor", [0.06, 0.25])  # about four stops and two stops under
def test_dark_photos_are_named_and_stretched_for_feature_detection(orbit, tmp_path, factor):
    degrade_folder(orbit[0], tmp_path / "photos", lambda rgb: darken(rgb, factor))
    code, metrics = solve(tmp_path / "photos", tmp_path / "out")
    assert code == EXIT_OK and metrics["images_registered"] == N
    warning = warning_with(metrics, "12 of 12 photos are dark (underexposed)")
    assert "IMG_0001.jpg" in warning and "contrast was stretched for feature detection" in warning
    assert len(metrics["capture"]["dark"]) == N and not metrics["capture"]["clipped_dark"]


def test_dark_photos_that_feature_detection_cannot_use_fail_as_dark_not_overlap(orbit, tmp_path, monkeypatch):
    """Without the stretch (what stretching cannot rescue), four stops under leaves SIFT nothing."""
    monkeypatch.setattr(program, "feature_images", lambda findings, work_images, target: work_images)
    degrade_folder(orbit[0], tmp_path / "photos", lambda rgb: darken(rgb, 0.06))
    code, failure = solve(tmp_path / "photos", tmp_path / "out")
    assert code == EXIT_INPUT
    assert failure["cause"] == CauseCode.DARK_IMAGES
    assert "are too dark: IMG_0001.jpg" in failure["message"] and "features on them" in failure["message"]
    assert "more light" in failure["advice"]


def test_shaken_photos_are_named(orbit, tmp_path):
    shaken = degrade_folder(orbit[0], tmp_path / "photos", lambda rgb: motion_blur(rgb, 8),
                            lambda index: index % 2 == 1)
    code, metrics = solve(tmp_path / "photos", tmp_path / "out")
    assert code == EXIT_OK
    assert metrics["capture"]["blurred"] == shaken
    warning = warning_with(metrics, "6 of 12 photos are blurred")
    assert all(name in warning for name in shaken)
