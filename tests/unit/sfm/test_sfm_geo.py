"""WGS84 <-> ENU conversion, Umeyama similarity, geo-referencing fit."""

import numpy as np
import pytest

from services.sfm.container.evaluation import rotation_angle_deg
from services.sfm.container.geo import (
    WGS84_A,
    dji_attitude_from_rotation,
    enu_to_wgs84,
    rotation_from_dji_attitude,
    umeyama,
    wgs84_to_ecef,
    wgs84_to_enu,
)
from services.sfm.container.georef import fit_enu, is_well_spread

ORIGIN = (47.3769, 8.5417, 400.0)


def test_ecef_of_the_equator_meridian_point_is_the_semi_major_axis():
    np.testing.assert_allclose(wgs84_to_ecef(np.array([[0.0, 0.0, 0.0]]))[0], [WGS84_A, 0, 0], atol=1e-6)


def test_enu_axes_point_east_north_up():
    north = wgs84_to_enu(np.array([[ORIGIN[0] + 0.001, ORIGIN[1], ORIGIN[2]]]), ORIGIN)[0]
    east = wgs84_to_enu(np.array([[ORIGIN[0], ORIGIN[1] + 0.001, ORIGIN[2]]]), ORIGIN)[0]
    up = wgs84_to_enu(np.array([[ORIGIN[0], ORIGIN[1], ORIGIN[2] + 10.0]]), ORIGIN)[0]
    assert north[1] == pytest.approx(111.2, abs=0.3) and abs(north[0]) < 1e-6
    lat = np.radians(ORIGIN[0])
    prime_vertical = WGS84_A / np.sqrt(1 - 0.00669438 * np.sin(lat) ** 2)
    assert east[0] == pytest.approx((prime_vertical + ORIGIN[2]) * np.cos(lat) * np.radians(0.001), abs=0.01)
    assert abs(east[1]) < 0.01  # earth curvature over 75 m: below a centimetre
    np.testing.assert_allclose(up, [0, 0, 10.0], atol=1e-6)


def test_enu_round_trip_is_sub_millimetre():
    rng = np.random.default_rng(0)
    enu = rng.uniform(-2000, 2000, size=(50, 3))
    back = wgs84_to_enu(enu_to_wgs84(enu, ORIGIN), ORIGIN)
    np.testing.assert_allclose(back, enu, atol=1e-3)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 3))
    rotation, scale, shift = random_rotation(rng), 3.7, np.array([5.0, -2.0, 10.0])
    dst = scale * src @ rotation.T + shift
    sim = umeyama(src, dst)
    assert sim.scale == pytest.approx(scale)
    np.testing.assert_allclose(sim.rotation, rotation, atol=1e-9)
    np.testing.assert_allclose(sim.apply(src), dst, atol=1e-9)


def test_enu_fit_ignores_one_gps_outlier():
    rng = np.random.default_rng(2)
    enu = np.stack([rng.uniform(-50, 50, 12), rng.uniform(-50, 50, 12), 40 + rng.normal(0, 1, 12)], axis=1)
    centres = (enu - 3.0) / 8.0  # the model frame: shifted and scaled
    noisy = enu + rng.normal(0, 0.05, enu.shape)
    noisy[4] += [40.0, 0.0, 0.0]  # one photo with a GPS jump
    sim, inliers, _ = fit_enu(centres, noisy, np.full_like(noisy, 0.05))
    assert not inliers[4] and inliers.sum() == 11
    assert sim.scale == pytest.approx(8.0, rel=1e-2)


def test_collinear_or_clustered_gps_cannot_georeference():
    line = np.stack([np.linspace(0, 100, 10), np.zeros(10), np.zeros(10)], axis=1)
    assert not is_well_spread(line)
    assert not is_well_spread(np.zeros((10, 3)) + 0.01)
    grid = np.stack([np.tile([0.0, 20.0], 5), np.repeat(np.arange(5) * 10.0, 2), np.zeros(10)], axis=1)
    assert is_well_spread(grid)


def test_dji_gimbal_angles_point_the_camera_where_dji_says():
    down_north = rotation_from_dji_attitude(0.0, -90.0, 0.0)  # world from camera, columns x, y, z
    np.testing.assert_allclose(down_north[:, 2], [0, 0, -1], atol=1e-12)  # looks straight down
    np.testing.assert_allclose(-down_north[:, 1], [0, 1, 0], atol=1e-12)  # top of the image to the north
    east_level = rotation_from_dji_attitude(90.0, 0.0, 0.0)
    np.testing.assert_allclose(east_level[:, 2], [1, 0, 0], atol=1e-12)
    oblique = rotation_from_dji_attitude(30.0, -60.0, 0.0)[:, 2]
    assert np.degrees(np.arctan2(oblique[0], oblique[1])) == pytest.approx(30.0)  # heading, clockwise from north
    assert np.degrees(np.arcsin(oblique[2])) == pytest.approx(-60.0)
    right_down = rotation_from_dji_attitude(0.0, 0.0, 10.0)[:, 0]  # positive roll dips the image's right side
    assert right_down[2] == pytest.approx(-np.sin(np.radians(10.0)))


@pytest.mark.parametrize("angles", [(30.0, -60.0, 5.0), (-170.0, -89.5, -2.0), (179.0, 10.0, 0.0), (45.0, -90.0, 0.0)])
def test_dji_attitude_round_trips_through_a_rotation(angles):
    rotation = rotation_from_dji_attitude(*angles)
    assert rotation_angle_deg(rotation_from_dji_attitude(*dji_attitude_from_rotation(rotation)).T @ rotation) < 1e-6
    if angles[1] > -89.0:
        assert dji_attitude_from_rotation(rotation) == pytest.approx(angles, abs=1e-9)
