"""The SfM stage delivers no photo placed where nothing holds it (services/sfm/container/pose_support.py).

Two rendered orbits on which the global mapper (GLOMAP) misplaced photos while the stage reported
success: every registered camera must now be within a tight error of the truth. Seconds each.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from services.sfm.container.config import Config
from services.sfm.container.evaluation import per_image_errors, poses_from_model
from services.sfm.container.program import run
from shared.stage import EXIT_OK, FAILURE_FILE, METRICS_FILE, StageName, execute_stage
from spaceport.synthetic import TRUTH_FILE, load_truth, render_scene
from spaceport.synthetic.masks import render_masked_orbit

pytestmark = pytest.mark.slow


def solve(photos, out, threads: int) -> dict:
    cfg = Config(max_image_size=480, max_num_features=2048, num_threads=threads)
    code = execute_stage(StageName.SFM, run, cfg, photos, out)
    assert code == EXIT_OK, (out / FAILURE_FILE).read_text() if (out / FAILURE_FILE).exists() else code
    return json.loads((out / METRICS_FILE).read_text())


def assert_every_camera_close_to_the_truth(photos, out, rotation_deg: float, centre_rel: float) -> None:
    truth = load_truth(photos / TRUTH_FILE).poses()
    rotation, centre = per_image_errors(poses_from_model(out / "sparse" / "0"), truth)
    assert rotation.max() < rotation_deg, np.round(rotation, 2)
    assert centre.max() < centre_rel, np.round(centre, 4)


def test_the_orbit_photo_the_global_mapper_placed_on_one_point_is_registered_again(tmp_path):
    """Before: IMG_0007 was 'registered' on 1 3D point, 72 deg off and far from the ring (the
    15 others right); with the old evaluation the set read as a 10-65 deg median error."""
    photos = tmp_path / "photos"
    render_scene("orbit", photos, n_images=16, width=480, height=360, seed=3)
    metrics = solve(photos, tmp_path / "out", threads=1)
    assert metrics["images_registered"] == 16 and metrics["unplaced_photos"] == []
    assert_every_camera_close_to_the_truth(photos, tmp_path / "out", rotation_deg=1.0, centre_rel=0.02)
    # The case still exercises the check (pycolmap 4.2.1's GLOMAP misplaces this photo).
    assert metrics["poses_rechecked"]["reregistered"] == ["IMG_0007.jpg"]


def test_a_masked_orbit_the_global_solve_folded_is_solved_incrementally(tmp_path):
    """Before: photos 2-5 turned by 90 deg (wrong pairs swayed rotation averaging), although
    photos 1 and 2 share 142 verified matches; the model contradicted that pair."""
    photos = tmp_path / "photos"
    render_masked_orbit(photos, n_images=16, width=480, height=360, seed=1)
    metrics = solve(photos, tmp_path / "out", threads=2)
    assert metrics["images_registered"] == 16
    assert_every_camera_close_to_the_truth(photos, tmp_path / "out", rotation_deg=1.0, centre_rel=0.02)
    # GLOMAP on 2 threads differs run to run: the global model either contradicts that pair or
    # (one run in four) loses photo 1 in the re-check, and the pair with it; both retry incremental.
    assert metrics["mapper"] == "incremental"
    assert "retried incremental, kept incremental" in metrics["mapper_reason"]
    assert metrics["poses_rechecked"]["contradicted_pairs"] == []


def test_the_masked_orbit_photo_the_global_mapper_left_out_is_placed(tmp_path):
    """Before: IMG_0015 unplaced (15/16) although it has 18 and 19 verified matches with its
    neighbours; placed, it is as close to the truth as the others (0.8 deg; median 0.6 deg)."""
    photos = tmp_path / "photos"
    render_masked_orbit(photos, n_images=16, width=320, height=240, seed=3)
    # One thread: repeatable. On two, COLMAP's matching and GLOMAP vary run to run on this marginal
    # set (11-16 photos placed over 8 runs), which no check after mapping can undo.
    metrics = solve(photos, tmp_path / "out", threads=1)
    assert metrics["images_registered"] == 16 and metrics["unplaced_photos"] == []
    assert_every_camera_close_to_the_truth(photos, tmp_path / "out", rotation_deg=3.0, centre_rel=0.05)
    assert metrics["poses_rechecked"]["placed_after_mapping"] == ["IMG_0015.png"]  # still the case
