"""Pose evaluation: similarity alignment, rotation and camera-centre errors, Strecha files."""

import numpy as np
import pytest

from services.sfm.container.evaluation import load_strecha_cameras, pose_errors, rotation_angle_deg


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
