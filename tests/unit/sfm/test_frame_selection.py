"""Choosing video frames: sharpness, picture motion, and the verdict per time window."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from services.sfm.container.frame_measures import laplacian_variance, picture_motion
from services.sfm.container.frame_select import (
    Candidate,
    SelectionRules,
    Verdict,
    judge,
    window_length,
    window_of,
)
from spaceport.synthetic.texture import value_noise


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    noise = value_noise(np.random.default_rng(3), 640, 1, octaves=6, base=8, persistence=0.7)[..., 0]
    return np.clip(128 + 60 * noise / noise.std(), 0, 255).astype(np.uint8)  # [640, 640]


def test_sharpness_falls_as_blur_grows(texture):
    image = Image.fromarray(texture[:240, :320])
    values = [laplacian_variance(np.asarray(image.filter(ImageFilter.GaussianBlur(r)))) for r in (0, 1, 2, 4)]
    assert values == sorted(values, reverse=True) and values[2] < 0.2 * values[0]


def test_sharpness_of_a_flat_picture_is_zero():
    assert laplacian_variance(np.full((20, 30), 77, np.uint8)) == 0.0


@pytest.mark.parametrize(("dx", "dy"), [(0, 0), (3, 0), (0, -5), (8, 6), (-12, 2)])
def test_picture_motion_measures_a_shift_as_a_share_of_the_width(texture, dx, dy):
    first = texture[100:340, 100:420]
    second = texture[100 + dy : 340 + dy, 100 + dx : 420 + dx]
    assert picture_motion(first, second) == pytest.approx(np.hypot(dx, dy) / 320, abs=0.5 / 320)


def test_a_changed_picture_counts_as_moved_and_a_flat_one_cannot_be_measured(texture):
    assert picture_motion(texture[:240, :320], texture[300:540, 300:620]) > 0.1
    flat = np.full((240, 320), 90, np.uint8)
    assert picture_motion(flat, flat) is None


def test_zoom_moves_the_picture_although_its_centre_stays(texture):
    first = texture[160:400, 160:480]
    zoomed = np.asarray(
        Image.fromarray(texture[130:430, 120:520]).resize((320, 240), Image.Resampling.BILINEAR)
    )
    assert picture_motion(first, zoomed) > 0.02


def test_windows_keep_the_cap():
    rules = SelectionRules(min_interval_s=0.5)
    assert window_length(60.0, 300, rules) == 0.5  # 2 frames a second at most
    assert window_length(600.0, 300, rules) == 2.0  # a long video: 300 windows
    assert window_of(1.99, 0.0, 2.0) == 0 and window_of(2.0, 0.0, 2.0) == 1


def verdicts(sharpness: list[float], motions: dict[tuple[int, int], float | None]) -> list[Verdict]:
    """One candidate per second; motion between candidate pairs (missing: moved a lot)."""
    candidates = [Candidate(k, float(k), s) for k, s in enumerate(sharpness)]
    times = np.arange(len(sharpness), dtype=float)
    return judge(
        candidates,
        times,
        np.asarray(sharpness),
        lambda a, b: motions.get((a.window, b.window), 0.5),
        SelectionRules(blur_ratio=0.45, blur_context_s=3.0, min_motion=0.02),
    )


def test_a_frame_far_blurrier_than_its_neighbours_is_rejected_and_the_next_sharp_one_kept():
    assert verdicts([100, 110, 20, 105, 95], {}) == [
        Verdict.KEPT,
        Verdict.KEPT,
        Verdict.BLURRY,
        Verdict.KEPT,
        Verdict.KEPT,
    ]


def test_frames_are_redundant_until_the_picture_moved_enough_since_the_last_kept_one():
    # the camera hovers after frame 1: frames 2 and 3 show what frame 1 showed; frame 4 moved on
    motions = {(0, 1): 0.1, (1, 2): 0.001, (1, 3): 0.01, (1, 4): 0.05}
    assert verdicts([100, 100, 100, 100, 100], motions) == [
        Verdict.KEPT,
        Verdict.KEPT,
        Verdict.REDUNDANT,
        Verdict.REDUNDANT,
        Verdict.KEPT,
    ]


def test_a_picture_whose_motion_cannot_be_measured_is_kept():
    assert verdicts([100, 100], {(0, 1): None}) == [Verdict.KEPT, Verdict.KEPT]


def test_a_uniformly_soft_video_keeps_its_frames():
    """Sharpness is judged against the neighbours: a soft lens or fog is not 'blurry'."""
    assert verdicts([9, 10, 8, 11, 10], {}) == [Verdict.KEPT] * 5
