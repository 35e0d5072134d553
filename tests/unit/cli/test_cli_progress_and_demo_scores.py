"""Progress lines and demo pose scoring."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
from scipy.spatial.transform import Rotation

from shared.jobs import Job, StageRecord
from shared.options import JobOptions
from spaceport.demo import pose_errors
from spaceport.progress import ProgressView, duration_text, progress_line


def test_progress_line_shows_steps_eta_and_psnr():
    line = progress_line(
        "train", {"phase": "train", "step": 1500, "total": 3000, "eta_s": 130, "psnr": 23.456}
    )
    assert "1500/3000" in line and "50%" in line
    assert "ETA 2m10s" in line
    assert "PSNR 23.46" in line
    assert progress_line("sfm", None) == "sfm      running"


def test_duration_text_picks_the_largest_unit():
    assert [duration_text(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]


def test_progress_view_prints_each_finished_stage_once_on_a_non_terminal(tmp_path):
    now = datetime.now(UTC)
    job = Job(
        job_id="a" * 20,
        owner="o",
        email="a@example.com",
        inbox_uri="s3://b/inbox/x/",
        options=JobOptions(),
        photo_count=9,
        photo_bytes=1,
        created_at=now,
        updated_at=now,
    )
    job.stages["sfm"] = StageRecord(
        status="succeeded",
        run_name="r",
        started_at=now,
        duration_s=42.0,
        metrics={"images_in": 9, "images_registered": 8, "points3d": 500},
    )
    out = io.StringIO()
    view = ProgressView(out)
    view.update(job, tmp_path)
    view.update(job, tmp_path)
    assert out.getvalue() == "sfm      done in 42s  8/9 images registered, 500 points\n"


def world_to_camera(rotation: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return rotation, -rotation @ centre


def test_pose_errors_are_zero_for_a_scaled_rotated_copy_and_grow_with_noise():
    rng = np.random.default_rng(1)
    truth, estimated, noisy = {}, {}, {}
    frame = Rotation.from_euler("z", 40, degrees=True).as_matrix()  # the SfM frame vs the world
    for k in range(10):
        r = Rotation.random(random_state=k).as_matrix()
        c = rng.normal(size=3) * 5
        truth[f"{k}"] = world_to_camera(r, c)
        # In a frame where x_sfm = 0.5 * frame @ x_world, cameras rotate by frame^T.
        estimated[f"{k}"] = world_to_camera(r @ frame.T, 0.5 * frame @ c)
        noisy[f"{k}"] = world_to_camera(r @ frame.T, 0.5 * frame @ (c + rng.normal(size=3) * 0.5))
    exact = pose_errors(estimated, truth)
    assert exact["registered"] == 10
    assert exact["position_error_median"] < 1e-9
    assert exact["rotation_error_median_deg"] < 1e-6
    assert pose_errors(noisy, truth)["position_error_median"] > 0.01
    assert exact["gross_outliers"] == 0
    far = dict(estimated, **{"0": world_to_camera(truth["0"][0] @ frame.T, np.array([900.0, 0.0, 0.0]))})
    one_bad = pose_errors(far, truth)
    assert one_bad["gross_outliers"] == 1 and one_bad["rotation_error_median_deg"] < 1e-6
