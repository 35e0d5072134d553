"""The viewer opens where a training photo was taken: COLMAP pose -> SuperSplat viewer camera
(the viewer turns splats 180 deg about z and keeps +y up), the level-most training photo, never a
held-out one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spaceport.viewer.camera import initial_camera, roll_degrees, viewer_pose
from spaceport.viewer.server import viewer_settings


def test_an_upright_colmap_camera_looks_the_same_way_with_the_same_up_in_the_viewer():
    rotation = np.eye(3)  # looks along +z, image up is -y
    centre = np.array([1.0, 2.0, -3.0])
    points = np.array([[1.0, 2.0, 2.0], [1.0, 2.0, 7.0], [0.0, 0.0, -10.0]])  # two ahead, one behind
    position, forward, up, depth = viewer_pose(rotation, -rotation @ centre, points)
    assert np.allclose(position, [-1.0, -2.0, -3.0])  # the viewer's 180 deg turn about z
    assert np.allclose(forward, [0, 0, 1]) and np.allclose(up, [0, 1, 0])
    assert depth == pytest.approx(7.5)  # median depth of the points in front
    assert roll_degrees(forward, up) == pytest.approx(0.0, abs=1e-9)


def test_roll_is_how_far_the_photo_up_turns_from_the_viewer_up():
    for degrees in (0.0, 10.0, 90.0, 180.0):
        # image turned about its viewing axis: the camera frame rotates about its own z
        rotation = Rotation.from_euler("z", degrees, degrees=True).as_matrix()
        _, forward, up, _ = viewer_pose(rotation, np.zeros(3), np.zeros((0, 3)))
        assert roll_degrees(forward, up) == pytest.approx(degrees, abs=1e-6)


def test_looking_straight_along_the_viewer_up_has_no_heading():
    rotation = Rotation.from_euler("x", 90, degrees=True).as_matrix()  # camera z -> world -y or +y
    _, forward, up, _ = viewer_pose(rotation, np.zeros(3), np.zeros((0, 3)))
    assert roll_degrees(forward, up) is None


def test_initial_camera_picks_a_training_photo_and_a_vertical_fov(tmp_path):
    pycolmap = pytest.importorskip("pycolmap")
    options = pycolmap.SyntheticDatasetOptions()
    options.num_frames_per_rig = 16
    model = pycolmap.synthesize_dataset(options)
    model.write(str(tmp_path))
    camera = initial_camera(tmp_path, test_every=8)
    assert camera is not None
    names = sorted(image.name for image in model.images.values())
    assert camera["photo"] in names and names.index(camera["photo"]) % 8 != 0
    (any_camera,) = list(model.cameras.values())[:1]
    fy = any_camera.calibration_matrix()[1, 1]
    assert camera["fov"] == pytest.approx(math.degrees(2 * math.atan2(any_camera.height / 2, fy)), abs=1e-3)
    rolls = []
    for image in model.images.values():
        if names.index(image.name) % 8:
            pose = image.cam_from_world()
            _, f, u, _ = viewer_pose(np.asarray(pose.rotation.matrix()), np.asarray(pose.translation), np.zeros((0, 3)))
            if (roll := roll_degrees(f, u)) is not None:
                rolls.append(roll)
    assert camera["roll_deg"] == pytest.approx(min(rolls), abs=0.01)
    settings = viewer_settings(camera)
    assert settings["cameras"] == [{"initial": {k: camera[k] for k in ("position", "target", "fov")}}]


def test_no_model_means_the_viewer_frames_the_scene(tmp_path):
    assert initial_camera(tmp_path / "none") is None
    assert viewer_settings(None)["cameras"] == []
