"""The SfM stage on drone videos rendered in the test: frames chosen around blur and hovering,
solved with sequential matching and loop detection, geo-referenced from the DJI subtitle."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from services.sfm.container.config import Config
from services.sfm.container.evaluation import poses_from_model, rotation_angle_deg
from services.sfm.container.program import run
from services.sfm.container.config import VideoConfig
from shared.causes import CauseCode
from shared.stage import EXIT_INPUT, EXIT_OK, FAILURE_FILE, METRICS_FILE, StageName, execute_stage
from spaceport.synthetic import TRUTH_FILE, load_truth
from spaceport.synthetic.flythrough import FlightPlan, Stretch, render_flythrough

pytestmark = pytest.mark.slow

FPS = 10.0
HOVER = Stretch("hover", 2.0, 3.5)  # the drone stops: identical frames
SHAKE = Stretch("shake", 5.0, 6.0)  # a gust shakes the gimbal: motion-blurred frames
PLAN = FlightPlan(9.0, FPS, 320, 240, stretches=(HOVER, SHAKE), seed=4)


def small_cfg(**overrides) -> Config:
    # exhaustive_max_images=4: even this short video takes the sequential + loop detection path
    return Config(
        max_image_size=320, max_num_features=2048, num_threads=2, exhaustive_max_images=4, **overrides
    )


@pytest.fixture(scope="module")
def flight(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flight")
    render_flythrough(PLAN, folder, "DJI_0001")
    return folder


@pytest.fixture(scope="module")
def solved(flight, tmp_path_factory):
    out = tmp_path_factory.mktemp("flight_out")
    code = execute_stage(StageName.SFM, run, small_cfg(), flight, out)
    failure = (out / FAILURE_FILE).read_text() if (out / FAILURE_FILE).exists() else ""
    assert code == EXIT_OK, failure
    return out, json.loads((out / METRICS_FILE).read_text())


def kept_times(metrics_dir) -> list[float]:
    names = sorted(p.name for p in (metrics_dir / "images").iterdir())
    return [int(name.removesuffix(".jpg").rsplit("_", 1)[1]) / FPS for name in names]


def test_kept_frames_avoid_the_blur_and_the_hover(solved):
    out, metrics = solved
    (video,) = metrics["videos"]
    times = kept_times(out)
    assert video["frames_decoded"] == 90 and video["frames_kept"] == len(times) >= 10
    assert video["rejected_blurry"] >= 1 and video["rejected_redundant"] >= 2
    assert not [t for t in times if SHAKE.start_s <= t < SHAKE.end_s]
    assert len([t for t in times if HOVER.start_s <= t <= HOVER.end_s]) <= 1
    assert any(f"{video['frames_kept']} frames kept" in w for w in metrics["warnings"])


def test_every_kept_frame_is_placed_with_accurate_relative_poses(solved, flight):
    out, metrics = solved
    assert metrics["registration_ratio"] == 1.0 and metrics["matcher"] == "sequential"
    assert not [w for w in metrics["warnings"] if "loop detection failed" in w]
    truth = load_truth(flight / TRUTH_FILE).poses()
    estimated = poses_from_model(out / "sparse" / "0")
    names = sorted(estimated)
    errors = [
        rotation_angle_deg((estimated[b][0] @ estimated[a][0].T) @ (truth[b][0] @ truth[a][0].T).T)
        for a, b in zip(names, names[1:], strict=False)
    ]
    assert max(errors) < 0.5


def test_the_subtitle_geo_references_the_video(solved, flight):
    out, metrics = solved
    (video,) = metrics["videos"]
    assert video["telemetry"] == "bracketed" and video["frames_with_gps"] == video["frames_kept"]
    assert metrics["georeferenced"] and metrics["photos_with_gps"] == video["frames_kept"]
    georef = json.loads((out / "georef.json").read_text())
    assert georef["residual_m"] < 0.5  # GPS written at 1e-6 degrees (~0.1 m) from the true centres
    truth = load_truth(flight / TRUTH_FILE)
    estimated = poses_from_model(out / "sparse" / "0")
    gt = {im.name: im.centre for im in truth.images}
    first, last = sorted(estimated)[0], sorted(estimated)[-1]
    centre = {n: -estimated[n][0].T @ estimated[n][1] for n in (first, last)}
    # ENU metres: the offset between two cameras matches the truth (origins differ)
    np.testing.assert_allclose(centre[last] - centre[first], gt[last] - gt[first], atol=0.5)


def test_a_video_that_never_moves_is_refused_as_too_short(flight, tmp_path):
    hover = FlightPlan(4.0, FPS, 320, 240, stretches=(Stretch("hover", 0.0, 4.0),), seed=4)
    render_flythrough(hover, tmp_path / "hover", "DJI_0002", srt=False)
    out = tmp_path / "out"
    assert execute_stage(StageName.SFM, run, small_cfg(), tmp_path / "hover", out) == EXIT_INPUT
    failure = json.loads((out / FAILURE_FILE).read_text())
    assert failure["cause"] == CauseCode.VIDEO_TOO_SHORT
    assert (
        "DJI_0002.MP4: 1 frame kept" in failure["message"]
        and "the camera barely moved" in failure["message"]
    )


def test_trimming_away_the_whole_video_is_refused_with_the_trim_named(flight, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(flight / "DJI_0001.MP4", folder / "DJI_0001.MP4")
    out = tmp_path / "out"
    cfg = small_cfg(video=VideoConfig(trim_start_s=5.0, trim_end_s=3.0))
    assert execute_stage(StageName.SFM, run, cfg, folder, out) == EXIT_INPUT
    failure = json.loads((out / FAILURE_FILE).read_text())
    assert (
        failure["cause"] == CauseCode.VIDEO_TOO_SHORT and "after trimming 5 s and 3 s" in failure["message"]
    )
