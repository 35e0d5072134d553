"""Pose evaluation: robust similarity alignment, rotation and camera-centre errors, Strecha files."""

import numpy as np
import pytest

from services.sfm.container.evaluation import (
    load_strecha_cameras,
    pose_errors,
    robust_alignment,
    rotation_angle_deg,
)
from services.sfm.container.geo import umeyama


def rot_z(deg):
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def ring_truth(n=8):
    poses = {}
    for k in range(n):
        rotation = rot_z(360 * k / n) @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
        centre = np.array([5 * np.cos(2 * np.pi * k / n), 5 * np.sin(2 * np.pi * k / n), 1.0 + k % 2])
        poses[f"{k}.jpg"] = (rotation, -rotation @ centre)
    return poses


def test_a_similar_copy_of_the_truth_has_no_error():
    truth = ring_truth()
    s, a, b = 0.3, rot_z(40), np.array([1.0, 2.0, 3.0])  # x_est = s A x_gt + b
    estimated = {}
    for name, (rotation, translation) in truth.items():
        centre = -rotation.T @ translation
        r_est = rotation @ a.T
        estimated[name] = (r_est, -r_est @ (s * a @ centre + b))
    errors = pose_errors(estimated, truth)
    assert errors.rotation_median_deg == pytest.approx(0, abs=1e-6)
    assert errors.centre_median_rel == pytest.approx(0, abs=1e-9)
    assert errors.scale == pytest.approx(1 / s)


def similar_copy(truth, s=0.3, a=None, b=np.array([1.0, 2.0, 3.0])):
    """The truth seen in an SfM frame where x_est = s A x_gt + b."""
    a = rot_z(40) if a is None else a
    out = {}
    for name, (rotation, translation) in truth.items():
        r_est = rotation @ a.T
        out[name] = (r_est, -r_est @ (s * a @ (-rotation.T @ translation) + b))
    return out


def moved(pose, centre_shift, turn):
    """The same camera turned by `turn` and its centre moved by centre_shift (estimated frame)."""
    rotation, translation = pose
    r = turn @ rotation
    return r, -r @ (-rotation.T @ translation + centre_shift)


def test_one_far_camera_is_one_gross_outlier_not_a_global_error():
    """The orbit bug: one camera 1,900 units out, rotated 50 deg; the 15 others exact. A plain
    Umeyama fit of all centres made that a 64 deg median rotation error."""
    truth = ring_truth(16)
    estimated = similar_copy(truth)
    estimated["0.jpg"] = moved(estimated["0.jpg"], np.array([-143.0, -53.0, -1913.0]), rot_z(50))
    names = sorted(truth)
    est_c = np.array([-estimated[n][0].T @ estimated[n][1] for n in names])
    gt_c = np.array([-truth[n][0].T @ truth[n][1] for n in names])
    plain = umeyama(est_c, gt_c)
    assert np.median(np.linalg.norm(plain.apply(est_c) - gt_c, axis=1)) > 1.0  # what the old metric saw
    errors = pose_errors(estimated, truth)
    assert errors.rotation_median_deg == pytest.approx(0, abs=1e-6)
    assert errors.centre_median_rel == pytest.approx(0, abs=1e-9)
    assert errors.rotation_max_deg > 40
    assert errors.aligned == 15 and errors.outliers == ("0.jpg",) and errors.gross_outliers == 1


def test_a_group_of_wrongly_turned_cameras_is_counted_camera_by_camera():
    """Four cameras of 16 turned by 90 deg about the object (a symmetric scene's wrong solve)."""
    truth = ring_truth(16)
    estimated = similar_copy(truth, s=1.0, a=np.eye(3), b=np.zeros(3))
    wrong = ["1.jpg", "10.jpg", "11.jpg", "12.jpg"]
    for name in wrong:
        rotation, translation = estimated[name]
        c = -rotation.T @ translation
        estimated[name] = moved(estimated[name], rot_z(90) @ c - c, rot_z(-90).T)
    errors = pose_errors(estimated, truth)
    assert errors.rotation_median_deg == pytest.approx(0, abs=1e-6)
    assert sorted(errors.outliers) == sorted(wrong) and errors.aligned == 12


def test_a_camera_off_by_a_few_degrees_in_place_is_a_gross_outlier():
    truth = ring_truth(16)
    estimated = similar_copy(truth)
    estimated["3.jpg"] = moved(estimated["3.jpg"], np.zeros(3), rot_z(6.0))
    errors = pose_errors(estimated, truth)
    assert errors.outliers == ("3.jpg",) and errors.aligned == 16  # its centre still agrees
    assert errors.rotation_max_deg == pytest.approx(6.0, abs=1e-6)


@pytest.mark.parametrize("n", [12, 40])  # all triplets; sampled triplets (C(40, 3) > 500)
def test_robust_alignment_recovers_the_similarity_with_a_third_of_the_points_wrong(n):
    rng = np.random.default_rng(5)
    dst = rng.normal(size=(n, 3)) * 4
    a = rot_z(-25) @ np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
    src = 2.5 * dst @ a.T + np.array([0.5, -1.0, 7.0])  # dst = (A^T (src - b)) / 2.5
    bad = rng.choice(n, n // 3, replace=False)
    src[bad] += rng.normal(size=(len(bad), 3)) * 20 + 10
    sim, inliers = robust_alignment(src, dst, threshold=0.1)
    good = np.setdiff1d(np.arange(n), bad)
    np.testing.assert_allclose(sim.apply(src[good]), dst[good], atol=1e-9)
    assert sim.scale == pytest.approx(1 / 2.5)
    assert set(np.flatnonzero(~inliers)) == set(bad)


def test_rotation_error_is_measured_in_degrees():
    truth = ring_truth()
    estimated = {n: (rot_z(2.0) @ r, rot_z(2.0) @ t) for n, (r, t) in truth.items()}  # same centres
    assert pose_errors(estimated, truth).rotation_median_deg == pytest.approx(2.0, abs=1e-6)
    assert rotation_angle_deg(rot_z(-30)) == pytest.approx(30)


@pytest.mark.parametrize("deg", [1e-4, 1e-2, 0.5, 90.0, 179.9])
def test_rotation_angle_is_accurate_at_small_and_large_angles(deg):
    # About a skewed axis so that no single matrix entry carries the angle on its own.
    axis = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.radians(deg)
    rotation = np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k  # Rodrigues
    assert rotation_angle_deg(rotation) == pytest.approx(deg, rel=1e-9)
    assert rotation_angle_deg(np.eye(3)) == 0.0


def test_a_copy_rotated_by_a_ten_thousandth_of_a_degree_measures_that_angle():
    truth = ring_truth()
    estimated = {n: (rot_z(1e-4) @ r, rot_z(1e-4) @ t) for n, (r, t) in truth.items()}
    assert pose_errors(estimated, truth).rotation_median_deg == pytest.approx(1e-4, rel=1e-6)


def test_too_few_common_images_is_an_error():
    with pytest.raises(ValueError):
        pose_errors(dict(list(ring_truth().items())[:2]), ring_truth())


def test_strecha_camera_files_become_world_to_camera(tmp_path):
    rotation_c2w = rot_z(30)
    c = np.array([1.0, -2.0, 0.5])
    lines = ["2759.48 0 1520.69", "0 2764.16 1006.81", "0 0 1", "0 0 0",
             *(" ".join(map(str, row)) for row in rotation_c2w), " ".join(map(str, c)), "3072 2048"]
    (tmp_path / "0000.jpg.camera").write_text("\n".join(lines) + "\n")
    rotation, translation = load_strecha_cameras(tmp_path)["0000.jpg"]
    np.testing.assert_allclose(rotation, rotation_c2w.T)
    np.testing.assert_allclose(-rotation.T @ translation, c)
