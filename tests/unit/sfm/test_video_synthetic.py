"""The fast flat-ground renderer agrees with the ray caster; fly-through videos carry their truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spaceport.synthetic.flat import render_flat_view
from spaceport.synthetic.flythrough import FlightPlan, Stretch, flat_drone_scene, pose_at, srt_text
from spaceport.synthetic.render import look_at, render_view
from spaceport.synthetic.scene import make_scene


def camera(width: int, height: int, hfov_deg: float) -> np.ndarray:
    f = width / (2 * math.tan(math.radians(hfov_deg) / 2))
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("scene", "centre", "target"),
    [
        (lambda: flat_drone_scene(0), (20.0, 5.0, 40.0), (0.0, 0.0, 0.0)),  # over the buildings
        (
            lambda: make_scene("orbit", np.random.default_rng(2)),
            (5.0, 1.0, 2.0),
            (0.0, 0.0, 0.9),
        ),  # sphere, sky
    ],
)
def test_the_flat_renderer_draws_what_the_ray_caster_draws(scene, centre, target):
    built = scene()
    rotation, translation = look_at(np.array(centre), np.array(target), np.array([0.0, 0.0, 1.0]))
    K = camera(160, 120, 70.0)
    fast = render_flat_view(built, rotation, translation, K, 160, 120).astype(int)
    reference = render_view(built, rotation, translation, K, 160, 120).astype(int)
    difference = np.abs(fast - reference)
    assert difference.mean() < 0.6 and np.percentile(difference, 99.9) <= 2


def test_the_flat_renderer_refuses_a_height_field():
    with pytest.raises(ValueError, match="flat ground"):
        render_flat_view(
            make_scene("drone", np.random.default_rng(0)), np.eye(3), np.zeros(3), camera(8, 8, 60), 8, 8
        )


def test_a_hover_stops_the_camera_and_a_shake_turns_it():
    plan = FlightPlan(6.0, 10.0, 64, 48, stretches=(Stretch("hover", 1.0, 2.0), Stretch("shake", 3.0, 4.0)))
    centre = {t: -pose_at(plan, t)[0].T @ pose_at(plan, t)[1] for t in (1.0, 1.5, 1.9, 2.5)}
    np.testing.assert_allclose(centre[1.0], centre[1.9], atol=1e-12)
    assert np.linalg.norm(centre[2.5] - centre[1.9]) == pytest.approx(
        0.5 * plan.speed_mps, rel=0.01
    )  # flying again from 2.0 s
    steady, shaken = pose_at(plan, 2.95)[0], pose_at(plan, 3.05)[0]
    angle = math.degrees(math.acos(np.clip((np.trace(steady @ shaken.T) - 1) / 2, -1, 1)))
    assert angle > 3.0  # 0.1 s of flight turns the camera well under a degree; the shake does more


def test_the_subtitle_is_the_dji_bracketed_dialect_and_reads_back():
    from services.sfm.container.srt import parse_srt

    plan = FlightPlan(0.3, 10.0, 64, 48)
    text = srt_text(plan, [(47.1, 8.2, 440.0), (47.100001, 8.2, 440.5), (47.100002, 8.2, 441.0)])
    telemetry = parse_srt(text)
    assert telemetry.dialect == "bracketed" and telemetry.altitude_kind == "absolute"
    assert telemetry.position_at(0.1) == pytest.approx((47.100001, 8.2, 440.5))
