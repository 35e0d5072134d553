"""Photo GPS: parsing what EXIF knows (and not more), screening wrong fixes, the noise model, and a
geo-referencing fit that uses 2D fixes for the ground plane only and refuses what GPS cannot support."""

from pathlib import Path

import numpy as np
import pytest

from services.sfm.container.geo import enu_to_wgs84
from services.sfm.container.georef import Georef, Gravity, fit_enu, fit_similarity, normalized_residuals
from services.sfm.container.gps import (
    DEFAULT_H_SIGMA_M,
    UNKNOWN_SIGMA_M,
    describe_exclusions,
    gps_noise,
    gps_targets,
)
from services.sfm.container.photos import ExifInfo, GpsFix, Photo, parse_gps

ORIGIN = (47.3769, 8.5417, 400.0)
FIX = {1: "N", 2: (47.0, 22.0, 36.84), 3: "E", 4: (8.0, 32.0, 30.12), 5: b"\x00", 6: 440.5}


def test_a_fix_without_altitude_has_an_unknown_altitude_not_zero():
    fix = parse_gps({k: v for k, v in FIX.items() if k not in (5, 6)})
    assert fix.usable and fix.alt is None
    assert fix.lat == pytest.approx(47 + 22 / 60 + 36.84 / 3600)


def test_altitude_reference_below_sea_level_in_bytes_or_int():
    assert parse_gps(FIX | {5: b"\x01"}).alt == pytest.approx(-440.5)
    assert parse_gps(FIX | {5: 1}).alt == pytest.approx(-440.5)
    assert parse_gps(FIX).alt == pytest.approx(440.5)


@pytest.mark.parametrize(("change", "problem"), [
    ({2: (0.0, 0.0, 0.0), 4: (0.0, 0.0, 0.0)}, "zero coordinates"),
    ({1: None}, "no N/S or E/W reference"),
    ({3: ""}, "no N/S or E/W reference"),
    ({2: (95.0, 0.0, 0.0)}, "coordinates out of range"),
    ({2: "garbage"}, "unreadable coordinates"),
])
def test_fixes_that_cannot_be_trusted_say_why(change, problem):
    fix = parse_gps({k: v for k, v in (FIX | change).items() if v is not None})
    assert not fix.usable and fix.problem == problem


def test_no_position_tags_is_no_fix():
    assert parse_gps({}) is None
    assert parse_gps({0: b"\x02\x03\x00\x00", 18: "WGS-84"}) is None


def test_noise_model_reads_dji_rtk_then_exif_error_then_defaults():
    plain = ExifInfo(gps=GpsFix(47.0, 8.0, 400.0))
    assert (gps_noise(plain).horizontal_m, gps_noise(plain).source) == (DEFAULT_H_SIGMA_M, "default")
    assert gps_noise(plain).vertical_m > gps_noise(plain).horizontal_m  # altitude is worse
    tagged = ExifInfo(gps=GpsFix(47.0, 8.0, 400.0, h_error_m=1.5))
    assert (gps_noise(tagged).horizontal_m, gps_noise(tagged).vertical_m) == (1.5, 3.0)
    rtk = ExifInfo(gps=GpsFix(47.0, 8.0, 400.0, h_error_m=5.0),
                   attitude={"RtkFlag": 50.0, "RtkStdLon": 0.011, "RtkStdLat": 0.014, "RtkStdHgt": 0.03})
    noise = gps_noise(rtk)
    assert (noise.horizontal_m, noise.vertical_m, noise.source) == (pytest.approx(0.02), 0.03, "dji_rtk")


def photo(name: str, fix: GpsFix | None) -> Photo:
    return Photo(Path(name), name, 640, 480, ExifInfo(gps=fix), 500.0, "exif_35mm")


def grid_fixes(n: int = 8) -> list[tuple[float, float, float]]:
    enu = np.stack([np.tile([0.0, 30.0], n // 2) + np.arange(n), np.repeat(np.arange(n // 2) * 25.0, 2),
                    np.full(n, 60.0)], axis=1)
    return [tuple(x) for x in enu_to_wgs84(enu, ORIGIN)]


def test_screening_names_every_fix_it_leaves_out_and_keeps_2d_fixes_for_the_ground():
    fixes = grid_fixes()
    photos = [photo(f"p{k}.jpg", GpsFix(*lla)) for k, lla in enumerate(fixes)]
    photos[1] = photo("p1.jpg", GpsFix(fixes[1][0], fixes[1][1], None))  # 2D fix
    photos[2] = photo("p2.jpg", GpsFix(fixes[2][0] + 0.05, fixes[2][1], fixes[2][2]))  # 5.5 km north
    photos[3] = photo("p3.jpg", GpsFix(0.0, 0.0, 0.0, problem="zero coordinates"))
    photos.append(photo("nogps.jpg", None))
    targets = gps_targets(photos)
    assert targets.excluded == {"p3.jpg": "zero coordinates", "p2.jpg": "5.5 km from the other photos"}
    assert targets.names == ["p0.jpg", "p1.jpg", "p4.jpg", "p5.jpg", "p6.jpg", "p7.jpg"]
    assert not targets.has_altitude[1] and targets.has_altitude[[0, 2, 3, 4, 5]].all()
    assert np.isnan(targets.enu[1, 2]) and targets.sigma[1, 2] == UNKNOWN_SIGMA_M
    assert targets.origin[2] == pytest.approx(ORIGIN[2] + 60.0, abs=0.01)  # lowest known altitude
    warnings = " ".join(describe_exclusions(targets))
    assert "p3.jpg (zero coordinates)" in warnings and "p2.jpg (5.5 km from the other photos)" in warnings
    assert "no altitude (p1.jpg)" in warnings


def test_a_set_without_gps_has_no_targets():
    assert gps_targets([photo("a.jpg", None), photo("b.jpg", None)]) is None


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def survey(rng, n=12):
    """Camera centres of a two-altitude survey in ENU [n, 3], and a model frame copy of them."""
    enu = np.stack([rng.uniform(-60, 60, n), rng.uniform(-40, 40, n), np.where(np.arange(n) % 2, 40.0, 70.0)], axis=1)
    rotation, scale, shift = random_rotation(rng), 0.13, np.array([2.0, -1.0, 0.5])
    centres = scale * (enu - 7.0) @ rotation.T + shift  # model = similarity of the truth
    return enu, centres


def test_2d_fixes_constrain_only_the_ground_plane():
    """Half the fixes lack altitude; reading them as altitude 0 tilts the frame and bends the scale."""
    rng = np.random.default_rng(3)
    enu, centres = survey(rng)
    gps = enu.copy()
    gps[1::2, 2] = np.nan  # every other photo: no altitude
    sigma = np.where(np.isnan(gps), UNKNOWN_SIGMA_M, 3.0)
    sim = fit_similarity(centres, gps, sigma)
    np.testing.assert_allclose(sim.apply(centres), enu, atol=1e-6)
    as_zero = np.nan_to_num(gps, nan=0.0)  # the old reading: missing altitude = 0 m
    wrong, _, _ = fit_enu(centres, as_zero, np.full_like(gps, 3.0))
    assert np.abs(wrong.apply(centres) - enu).max() > 5.0


def test_a_fix_far_off_is_left_out_and_the_rest_fit_within_their_noise():
    rng = np.random.default_rng(4)
    enu, centres = survey(rng, 16)
    sigma = np.tile([2.0, 2.0, 4.0], (16, 1))
    gps = enu + rng.normal(size=enu.shape) * sigma
    gps[5] += [80.0, -40.0, 0.0]
    sim, inliers, _ = fit_enu(centres, gps, sigma)
    assert not inliers[5] and inliers.sum() == 15
    assert np.sqrt((normalized_residuals(sim, centres[inliers], gps[inliers], sigma[inliers]) ** 2).mean()) < 1.5
    assert sim.scale == pytest.approx(1 / 0.13, rel=0.03)


def georef_with(normalized: float) -> Georef:
    return Georef((0.0, 0.0, 0.0), 1.0, 0.0, 3.0 * normalized, 3.0, 3.0, normalized, (3.0, 6.0), 10, 10)


def test_a_fit_far_above_the_gps_noise_is_refused_with_its_residual():
    assert georef_with(1.2).refusal() is None
    reason = georef_with(12.0).refusal()
    assert "not geo-referenced" in reason and "36.0 m" in reason and "~3.0 m horizontal" in reason


def tilt_deg(rotation_a, rotation_b) -> float:
    """Angle between the up axes two model -> ENU rotations give."""
    a, b = rotation_a.T @ [0, 0, 1.0], rotation_b.T @ [0, 0, 1.0]
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b)), a @ b)))


def small_noisy_survey(seed):
    """12 photos over 30 x 20 m with 2 m / 4 m GPS noise, nadir cameras with gimbal down directions."""
    rng = np.random.default_rng(seed)
    enu = np.stack([rng.uniform(-15, 15, 12), rng.uniform(-10, 10, 12), 40.0 + rng.uniform(-1, 1, 12)], axis=1)
    truth = random_rotation(rng)  # ENU -> model rotation
    centres = 0.1 * enu @ truth.T
    sigma = np.tile([2.0, 2.0, 4.0], (12, 1))
    gps = enu + rng.normal(size=enu.shape) * sigma
    cam_from_enu = np.array([np.diag([1.0, -1.0, -1.0]) for _ in range(12)])  # straight down
    gimbal_down = cam_from_enu @ [0, 0, -1.0]
    return centres, gps, sigma, truth, Gravity(cam_from_enu @ truth.T, gimbal_down)


def test_gimbal_down_directions_fix_the_tilt_gps_cannot():
    errors_gps, errors_both = [], []
    for seed in range(5):
        centres, gps, sigma, truth, gravity = small_noisy_survey(seed)
        errors_gps.append(tilt_deg(fit_similarity(centres, gps, sigma).rotation, truth.T))
        sim, _, used = fit_enu(centres, gps, sigma, gravity)
        assert used
        errors_both.append(tilt_deg(sim.rotation, truth.T))
    assert max(errors_both) < 0.2 and max(errors_gps) > 1.0  # an exact gimbal here; GPS alone tilts by degrees


def test_a_gimbal_far_from_the_solve_is_not_used():
    centres, gps, sigma, truth, gravity = small_noisy_survey(0)
    tilted = Gravity(gravity.cam_from_model, gravity.cam_from_model @ truth @ [0.0, np.sin(1.2), -np.cos(1.2)])
    sim, _, used = fit_enu(centres, gps, sigma, tilted)  # a gimbal 69 deg off: reports something else
    assert not used
    assert tilt_deg(sim.rotation, truth.T) == pytest.approx(tilt_deg(fit_similarity(centres, gps, sigma).rotation,
                                                                     truth.T))
