"""Synthetic scenes: deterministic, EXIF readable, ground-truth poses consistent with the pixels."""

import numpy as np
import pytest
from PIL import Image

from services.sfm.container.photos import prepare_photos
from services.sfm.container.geo import rotation_from_dji_attitude, wgs84_to_enu
from spaceport.synthetic import TRUTH_FILE, load_truth, render_scene
from spaceport.synthetic.exif import make_exif, replace_exif
from spaceport.synthetic.render import DroneFlight, render_view
from spaceport.synthetic.scene import make_scene, trace


def test_same_seed_renders_the_same_photos(tmp_path):
    a = render_scene("orbit", tmp_path / "a", n_images=2, width=64, height=48, seed=3)
    b = render_scene("orbit", tmp_path / "b", n_images=2, width=64, height=48, seed=3)
    assert a == b
    assert (tmp_path / "a" / "IMG_0001.jpg").read_bytes() == (tmp_path / "b" / "IMG_0001.jpg").read_bytes()
    assert load_truth(tmp_path / "a" / TRUTH_FILE) == a
    assert Image.open(tmp_path / "a" / "IMG_0002.jpg").size == (64, 48)


def test_drone_photos_carry_focal_and_gps_exif(tmp_path):
    truth = render_scene("drone", tmp_path / "d", n_images=3, width=80, height=60, seed=1)
    photos = prepare_photos(tmp_path / "d", tmp_path / "w", 1000).photos
    assert len(photos) == 3
    for photo, image in zip(photos, truth.images, strict=True):
        assert photo.focal_source == "exif_35mm"
        assert photo.focal_px == pytest.approx(truth.fx, rel=0.03)  # 35 mm focal is rounded to a mm
        fix = photo.exif.gps
        assert (fix.lat, fix.lon, fix.alt) == pytest.approx(tuple(image.gps), abs=1e-3)  # EXIF keeps mm


def test_ground_truth_poses_match_the_rendered_geometry():
    """A surface point seen in one view, projected with the truth into another, has the same colour."""
    rng = np.random.default_rng(0)
    scene = make_scene("orbit", rng)
    from spaceport.synthetic.render import orbit_cameras

    poses = orbit_cameras(8, rng)
    w, h, f = 160, 120, 140.0
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    (ra, ta), (rb, tb) = poses[0], poses[1]
    image_b = render_view(scene, rb, tb, K, w, h).astype(float)
    # rays of view A through a grid of pixels -> 3D points via the ray caster's depth
    u, v = np.meshgrid(np.arange(20, w - 20, 7) + 0.5, np.arange(20, h - 20, 7) + 0.5)
    pix = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)
    rays = pix @ np.linalg.inv(K).T @ ra
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    centre_a = -ra.T @ ta
    colour_a, depth = trace(scene, centre_a, rays)
    points = centre_a + depth[:, None] * rays
    cam_b = points @ rb.T + tb
    proj = cam_b @ K.T
    uv = proj[:, :2] / proj[:, 2:]
    # keep points inside B and not hidden from B (B's own depth along the ray agrees)
    inside = (uv[:, 0] > 1) & (uv[:, 0] < w - 2) & (uv[:, 1] > 1) & (uv[:, 1] < h - 2)
    centre_b = -rb.T @ tb
    to_points = points - centre_b
    dist = np.linalg.norm(to_points, axis=1)
    _, depth_b = trace(scene, centre_b, to_points / dist[:, None])
    visible = inside & (np.abs(depth_b - dist) < 1e-3 * dist)
    assert visible.sum() > 50
    seen = image_b[uv[visible, 1].astype(int), uv[visible, 0].astype(int)] / 255.0
    diff = np.abs(seen - colour_a[visible]).mean(axis=1)
    assert np.median(diff) < 0.04


def test_unknown_scene_kind_is_rejected(tmp_path):
    with pytest.raises(ValueError):
        render_scene("city", tmp_path, n_images=1)  # type: ignore[arg-type]


def test_exif_rewrite_keeps_the_pixels_and_the_xmp(tmp_path):
    render_scene("drone", tmp_path / "d", n_images=1, width=64, height=48, seed=2,
                 flight=DroneFlight(attitude_xmp=True))
    path = tmp_path / "d" / "DJI_0001.jpg"
    pixels = np.asarray(Image.open(path))
    replace_exif(path, make_exif("A", "B", 4.0, 24, (1.0, 2.0, None)))
    image = Image.open(path)
    assert np.array_equal(np.asarray(image), pixels)
    gps = image.getexif().get_ifd(0x8825)
    assert 6 not in gps and float(gps[2][0]) == 1.0  # a 2D fix
    assert b"GimbalYawDegree" in image.info["xmp"]


def test_drone_flight_options_shape_the_scene(tmp_path):
    """Flat ground, two altitudes, noisy GPS that does not change the photos, XMP attitude = the truth."""
    flight = DroneFlight(terrain="flat", tilt_deg=0.0, altitudes_m=(30.0, 50.0), gps_sigma_m=(2.0, 4.0),
                         attitude_xmp=True)
    truth = render_scene("drone", tmp_path / "a", n_images=6, width=64, height=48, seed=4, flight=flight)
    heights = sorted(round(im.centre[2] / 10) * 10 for im in truth.images)
    assert heights == [30, 30, 30, 50, 50, 50]
    assert all(np.allclose(im.R[2], [0, 0, -1]) for im in truth.images)  # nadir: optical axis down
    gps = wgs84_to_enu(np.array([im.gps for im in truth.images]), tuple(truth.origin))
    error = gps - np.array([im.centre for im in truth.images])
    assert 0.2 < np.abs(error[:, :2]).max() < 10.0 and np.abs(error[:, 2]).max() < 20.0
    exact = render_scene("drone", tmp_path / "b", n_images=6, width=64, height=48, seed=4,
                         flight=DroneFlight(terrain="flat", tilt_deg=0.0, altitudes_m=(30.0, 50.0)))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a" / "DJI_0001.jpg")),
                          np.asarray(Image.open(tmp_path / "b" / "DJI_0001.jpg")))
    assert exact.images[0].centre.tolist() == truth.images[0].centre.tolist()
    photo = prepare_photos(tmp_path / "a", tmp_path / "w", 1000).photos[0]
    attitude = [photo.exif.attitude[k] for k in ("GimbalYawDegree", "GimbalPitchDegree", "GimbalRollDegree")]
    world_from_camera = rotation_from_dji_attitude(*attitude)
    assert np.abs(world_from_camera - truth.images[0].R.T).max() < 1e-3  # XMP keeps 0.01 deg
    assert make_scene("drone", np.random.default_rng(0), flat=True).amplitude == 0.0
