"""SfM import mode: a COLMAP model that comes with the photos is checked and undistorted, not
solved again; the output is the layout training reads (pinhole images/ + sparse/0/)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pycolmap = pytest.importorskip("pycolmap")

from services.sfm.container.config import Config  # noqa: E402
from services.sfm.container.importer import find_model  # noqa: E402
from services.sfm.container.program import run  # noqa: E402
from shared.causes import CauseCode  # noqa: E402
from shared.stage import StageName, execute_stage  # noqa: E402


def colmap_project(folder, scale: float = 1.0, text: bool = False, images_dir: str = "images", exif_rotated: bool = False):
    """A synthetic COLMAP model (SIMPLE_RADIAL, 1024x768) in sparse/0 and its photos in `images_dir`."""
    options = pycolmap.SyntheticDatasetOptions()
    options.num_frames_per_rig = 6
    options.num_points3D = 300
    model = pycolmap.synthesize_dataset(options)
    sparse = folder / "sparse/0"
    sparse.mkdir(parents=True)
    if text:
        model.write_text(str(sparse))
    else:
        model.write(str(sparse))
    rng = np.random.default_rng(0)
    for image in model.images.values():
        camera = model.cameras[image.camera_id]
        size = (round(camera.width * scale), round(camera.height * scale))
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        path = folder / images_dir / image.name.replace(".png", ".jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        exif = Image.Exif()
        if exif_rotated:
            exif[0x0112] = 6  # "rotate 90 CW to view": COLMAP ignores it, so must we
        Image.fromarray(pixels).save(path, quality=90, exif=exif)
    for image in model.images.values():  # the photos are JPEGs; the model names them so too
        image.name = image.name.replace(".png", ".jpg")
    if text:
        model.write_text(str(sparse))
    else:
        model.write(str(sparse))
    return model


def config(**overrides) -> Config:
    return Config(**{"max_image_size": 640, "num_threads": 1, "min_points3d": 50, **overrides})


@pytest.mark.parametrize("text", [False, True])
def test_an_imported_model_is_undistorted_into_the_training_layout(tmp_path, text):
    source = colmap_project(tmp_path / "in", text=text)
    metrics = run(config(), tmp_path / "in", tmp_path / "out")
    out = pycolmap.Reconstruction(str(tmp_path / "out/sparse/0"))
    assert metrics.model_source == "imported" and metrics.matcher == "imported"
    assert metrics.images_registered == source.num_reg_images() == out.num_reg_images()
    assert metrics.points3d == source.num_points3D()
    assert {c.model_name for c in out.cameras.values()} <= {"PINHOLE", "SIMPLE_PINHOLE"}
    assert max(metrics.image_size) <= 640
    for image in out.images.values():
        with Image.open(tmp_path / "out/images" / image.name) as photo:
            assert photo.size == (out.cameras[image.camera_id].width, out.cameras[image.camera_id].height)


def test_photos_resized_after_the_solve_rescale_the_camera(tmp_path):
    source = colmap_project(tmp_path / "in", scale=0.5)
    metrics = run(config(max_image_size=2000), tmp_path / "in", tmp_path / "out")
    out = pycolmap.Reconstruction(str(tmp_path / "out/sparse/0"))
    assert all(max(c.width, c.height) <= 512 + 1 for c in out.cameras.values())  # the photos', not 1024
    assert metrics.images_registered == source.num_reg_images()


def test_exif_rotation_is_ignored_as_colmap_does(tmp_path):
    colmap_project(tmp_path / "in", exif_rotated=True)
    run(config(max_image_size=1024), tmp_path / "in", tmp_path / "out")
    cameras = pycolmap.Reconstruction(str(tmp_path / "out/sparse/0")).cameras.values()
    assert all(c.width > c.height for c in cameras)  # landscape as stored, not turned to portrait


def test_a_missing_photo_is_named_and_nothing_is_trained(tmp_path):
    model = colmap_project(tmp_path / "in")
    gone = sorted(image.name for image in model.images.values())[2]
    (tmp_path / "in/images" / gone).unlink()
    code = execute_stage(StageName.SFM, run, config(), tmp_path / "in", tmp_path / "out")
    failure = json.loads((tmp_path / "out/failure.json").read_text())
    assert code == 2 and failure["cause"] == CauseCode.INVALID_COLMAP_MODEL
    assert gone in failure["message"] and "file names" in failure["message"]


def test_photos_of_another_shape_fail_with_both_sizes(tmp_path):
    colmap_project(tmp_path / "in")
    for path in (tmp_path / "in/images").iterdir():
        Image.open(path).crop((0, 0, 700, 700)).save(path)
    execute_stage(StageName.SFM, run, config(), tmp_path / "in", tmp_path / "out")
    failure = json.loads((tmp_path / "out/failure.json").read_text())
    assert failure["cause"] == CauseCode.INVALID_COLMAP_MODEL and "1024x768" in failure["message"]


def test_import_mode_without_a_model_says_where_it_looked(tmp_path):
    (tmp_path / "in").mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "in/a.jpg")
    execute_stage(StageName.SFM, run, config(mode="import"), tmp_path / "in", tmp_path / "out")
    failure = json.loads((tmp_path / "out/failure.json").read_text())
    assert failure["cause"] == CauseCode.INVALID_COLMAP_MODEL and "sparse/0" in failure["message"]


def test_the_model_is_found_where_tools_put_it(tmp_path):
    for place in ("sparse/0", "sparse", "colmap/sparse/0"):
        folder = tmp_path / place.replace("/", "_") / place
        folder.mkdir(parents=True)
        for name in ("cameras", "images", "points3D"):
            (folder / f"{name}.bin").write_bytes(b"")
        assert find_model(tmp_path / place.replace("/", "_")) == folder
    assert find_model(tmp_path / "nothing") is None
