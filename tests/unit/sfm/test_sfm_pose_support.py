"""Poses the 3D points do not hold, re-registered or left out (services/sfm/container/pose_support.py).

A synthetic COLMAP dataset (pycolmap.synthesize_dataset: 12 photos of one camera, 300 points
seen by all, exact matches in a database) stands in for a mapped model; one photo is then
"misplaced" the way GLOMAP misplaced an orbit photo: 2,000 units away with 2 points left.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pycolmap
import pytest

from services.sfm.container.config import Config
from services.sfm.container.evaluation import rotation_angle_deg
from services.sfm.container.pose_support import contradicted_pairs, recheck_poses, unsupported_images

CFG = Config(num_threads=1)


@pytest.fixture
def mapped(tmp_path):
    """(model, database path): 12 registered photos with exact poses, points and matches."""
    options = pycolmap.SyntheticDatasetOptions()
    options.num_rigs, options.num_frames_per_rig, options.num_points3D = 1, 12, 300
    options.camera_model_id = pycolmap.CameraModelId.PINHOLE
    options.camera_params = [1280.0, 1280.0, 512.0, 384.0]
    database = tmp_path / "database.db"
    db = pycolmap.Database.open(database)
    pycolmap.set_random_seed(0)
    model = pycolmap.synthesize_dataset(options, db)
    db.close()
    return model, database


def keep_observations(model: pycolmap.Reconstruction, image_id: int, count: int) -> None:
    observed = [k for k, point in enumerate(model.images[image_id].points2D) if point.has_point3D()]
    for k in observed[count:]:
        model.delete_observation(image_id, k)


def misplace(model: pycolmap.Reconstruction, image_id: int) -> None:
    """Turn the photo by ~45 deg and move it 2,000 units away (its frame is its pose)."""
    pose = model.images[image_id].cam_from_world()
    turn = np.array([0.3, 0.1, 0.2, 0.927]) / np.linalg.norm([0.3, 0.1, 0.2, 0.927])  # x, y, z, w
    model.frames[model.images[image_id].frame_id].rig_from_world = pycolmap.Rigid3d(
        pycolmap.Rotation3d(turn), pose.translation + np.array([0.0, 0.0, 2000.0]))


def forget_matches(database, image_id: int, others) -> None:
    db = pycolmap.Database.open(database)
    for other in others:
        if other != image_id:
            db.delete_inlier_matches(image_id, other)
    db.close()


def test_a_photo_placed_far_away_on_two_points_is_registered_again_at_its_true_pose(mapped):
    model, database = mapped
    k = sorted(model.reg_image_ids())[3]
    truth = model.images[k].cam_from_world()
    keep_observations(model, k, 2)
    misplace(model, k)
    found = unsupported_images(model, CFG.abs_pose_min_inliers)
    assert list(found) == [k] and found[k].points == 2 and found[k].far > 100
    checked, check = recheck_poses(model, database, CFG)
    assert check.reregistered == [model.images[k].name] and not check.left_out
    pose = checked.images[k].cam_from_world()
    assert rotation_angle_deg(pose.rotation.matrix() @ truth.rotation.matrix().T) < 1e-6
    np.testing.assert_allclose(pose.translation, truth.translation, atol=1e-6)
    assert checked.images[k].num_points3D > 250  # its observations came back with it
    assert model.images[k].num_points3D == 2  # the mapped model itself is left as it was


def test_a_misplaced_photo_that_matches_nothing_any_more_is_left_out(mapped):
    model, database = mapped
    k = sorted(model.reg_image_ids())[5]
    keep_observations(model, k, 2)
    misplace(model, k)
    forget_matches(database, k, model.reg_image_ids())
    checked, check = recheck_poses(model, database, CFG)
    assert check.left_out == [model.images[k].name] and not check.kept
    assert not checked.exists_image(k) or not checked.images[k].has_pose
    assert checked.num_reg_images() == 11


def test_a_well_observed_photo_in_place_keeps_its_pose_when_absolute_pose_cannot_confirm_it(mapped):
    model, database = mapped
    k = sorted(model.reg_image_ids())[5]
    truth = model.images[k].cam_from_world()
    keep_observations(model, k, 10)  # under the 15 registration needs, over MIN_KEPT_POINTS
    forget_matches(database, k, model.reg_image_ids())
    checked, check = recheck_poses(model, database, CFG)
    assert check.kept == [model.images[k].name] and not check.left_out
    np.testing.assert_allclose(checked.images[k].cam_from_world().translation, truth.translation)
    assert checked.images[k].num_points3D == 10


def test_a_supported_model_is_returned_untouched(mapped):
    model, database = mapped
    checked, check = recheck_poses(model, database, CFG)
    assert checked is model and not check.unsupported and not check.contradicted
    assert check.to_json([]) == {}


def test_a_strong_pair_whose_photos_share_no_points_is_contradicted(mapped):
    """300 verified matches but 20 shared points: the poses disagree with the matches."""
    model, database = mapped
    k = sorted(model.reg_image_ids())[7]
    keep_observations(model, k, 20)  # still enough points to count as supported
    assert not unsupported_images(model, CFG.abs_pose_min_inliers)
    pairs = contradicted_pairs(model, database, min_inliers=40)
    assert len(pairs) == 11
    assert all(model.images[k].name in (a, b) and shared == 20 for a, b, _, shared in pairs)
    assert contradicted_pairs(model, database, min_inliers=40, min_shared=0.05) == []


def test_a_planar_or_panoramic_pair_sharing_few_points_is_no_contradiction(mapped):
    """A homography explains such a pair's matches (little or no baseline): they need not
    triangulate. Banana with every other photo shaken lost 6 correctly placed photos to this."""
    model, database = mapped
    k = sorted(model.reg_image_ids())[7]
    keep_observations(model, k, 20)
    db = pycolmap.Database.open(database)
    for other in model.reg_image_ids():
        if other != k:
            geometry = db.read_two_view_geometry(k, other)
            geometry.config = pycolmap.TwoViewGeometryConfiguration.PLANAR_OR_PANORAMIC
            db.update_two_view_geometry(k, other, geometry)
    db.close()
    assert contradicted_pairs(model, database, min_inliers=40) == []


def leave_out(model: pycolmap.Reconstruction, image_id: int) -> None:
    """What the mapper does with a photo it drops: no pose, no observations in the model."""
    for k, point in enumerate(model.images[image_id].points2D):
        if point.has_point3D():
            model.delete_observation(image_id, k)
    model.deregister_frame(model.images[image_id].frame_id)


def test_a_photo_the_mapper_left_out_is_placed_at_its_true_pose(mapped):
    """GLOMAP dropped one photo of a 320 x 240 masked orbit that had 18 and 19 verified matches
    with its neighbours; COLMAP's incremental registration places it (0.8 deg, like the rest)."""
    model, database = mapped
    k = sorted(model.reg_image_ids())[4]
    truth = model.images[k].cam_from_world()
    leave_out(model, k)
    assert model.num_reg_images() == 11
    checked, check = recheck_poses(model, database, CFG)
    assert check.added == [model.images[k].name] and not check.unsupported and check.still_unplaced == []
    assert checked.num_reg_images() == 12 and checked.images[k].num_points3D > 250
    pose = checked.images[k].cam_from_world()
    assert rotation_angle_deg(pose.rotation.matrix() @ truth.rotation.matrix().T) < 1e-6
    np.testing.assert_allclose(pose.translation, truth.translation, atol=1e-6)
    assert check.to_json([])["placed_after_mapping"] == [model.images[k].name]
    assert model.num_reg_images() == 11  # the mapped model itself is left as it was


def test_a_left_out_photo_without_matches_to_the_placed_ones_stays_out(mapped):
    model, database = mapped
    k = sorted(model.reg_image_ids())[4]
    leave_out(model, k)
    forget_matches(database, k, model.reg_image_ids())
    checked, check = recheck_poses(model, database, CFG)
    assert checked is model and check.added == [] and checked.num_reg_images() == 11
    assert check.still_unplaced == []  # no verified pair links it to a placed photo any more


def test_a_global_model_leaving_out_a_linked_photo_is_retried_incremental(mapped, monkeypatch, tmp_path):
    """A global solve once left out a masked-orbit photo its points did not hold, and with it the
    strong pair that showed the model folded: the incremental retry placed all 16, correctly."""
    from services.sfm.container import solve

    complete, database = mapped
    partial = pycolmap.Reconstruction(complete)
    k = sorted(partial.reg_image_ids())[4]
    leave_out(partial, k)
    mappers = []

    def mapped_as(database, image_dir, work_dir, cfg, mapper, plan):  # as recheck_poses reports them
        mappers.append(mapper)
        if mapper == "global":
            return partial, solve.SupportCheck(still_unplaced=[partial.images[k].name])
        return complete, solve.SupportCheck()

    monkeypatch.setattr(solve, "_mapped", mapped_as)
    plan = solve.SolvePlan("global", "default", gps_in_solve=False, hold_focal_while_mapping=False)
    kept, mapper, check = solve.map_photos(database, tmp_path, tmp_path, CFG, plan)
    assert mappers == ["global", "incremental"] and mapper == "incremental" and kept is complete
    left_out = partial.images[k].name
    assert f"leaves out 1 photo that verified pairs link to placed ones: {left_out}" in check.retried

    mappers.clear()
    incremental = replace(plan, mapper="incremental")
    kept, mapper, check = solve.map_photos(database, tmp_path, tmp_path, CFG, incremental)
    assert mappers == ["incremental"] and not check.retried
