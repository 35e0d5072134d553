"""The cases of issue #10 through `spaceport run`, with the real stage programs on small rendered
scenes: the SfM stage for the layout and format cases (`--stop-after sfm`), the whole pipeline
(with a short training) for the cut-out photos and the two captures in one folder."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared import stage_service
from spaceport import cli
from spaceport.synthetic import render_scene
from spaceport.synthetic.masks import render_masked_orbit
from tests.e2e.test_local_real_stages import TINY_TRAIN as FEW_STEPS
from tests.support.photo_files import motion_photo

pytestmark = pytest.mark.slow

TINY_TRAIN = {**FEW_STEPS, "steps": 150, "refine_stop": 120, "checkpoint_every": 150, "test_every": 4}


@pytest.fixture
def tiny_training(monkeypatch):
    """The train service launches the real training program with a short schedule."""
    from services.train import logic as train_logic

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    original = train_logic.build_config
    tiny = replace(train_logic.SPEC, build_config=lambda options: {**original(options), **TINY_TRAIN})
    monkeypatch.setattr(train_logic, "SPEC", tiny)
    return tiny


@pytest.fixture(scope="module")
def drone(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("drone")
    render_scene("drone", folder, n_images=10, width=320, height=240, seed=11)
    (folder / "truth.json").unlink()
    return folder


def spaceport_run(photos: Path, data: Path, capsys, *extra: str) -> tuple[int, str, dict]:
    code = cli.main(["run", str(photos), "--data-dir", str(data), "--preset", "preview", *extra])
    out = capsys.readouterr()
    jobs = sorted((data / "spaceport/jobs").iterdir()) if (data / "spaceport/jobs").is_dir() else []
    metrics_file = jobs[-1] / "sfm/metrics.json" if jobs else None
    metrics = json.loads(metrics_file.read_text()) if metrics_file and metrics_file.exists() else {}
    return code, out.out + out.err, metrics


def _motion_photos(folder: Path) -> None:
    for jpg in folder.glob("*.jpg"):
        jpg.write_bytes(jpg.read_bytes() + motion_photo(0)[-40_100:])  # MP4 + vendor trailer after EOI


def _sync_copies(folder: Path) -> None:
    for jpg in sorted(folder.glob("*.jpg"))[:3]:
        shutil.copy(jpg, folder / f"{jpg.stem} (1){jpg.suffix}")


def _tiff(folder: Path) -> None:
    for jpg in folder.glob("*.jpg"):
        Image.open(jpg).save(jpg.with_suffix(".tif"), compression="tiff_lzw")
        jpg.unlink()


def _files_that_are_not_photos(folder: Path) -> None:
    (folder / "DSC_9999.jpg").write_text("a shopping list, not a photo\n" * 20)
    (folder / "DSC_0001.NEF").write_bytes(b"MM\x00*" + bytes(400))


def _dji_card(folder: Path) -> None:
    for k, jpg in enumerate(sorted(folder.glob("*.jpg"))):
        target = folder / "DCIM" / ("100MEDIA" if k < 5 else "101MEDIA") / jpg.name.upper()
        target.parent.mkdir(parents=True, exist_ok=True)
        jpg.rename(target)


def _second_pass(folder: Path) -> None:
    (folder / "second pass").mkdir()
    for jpg in sorted(folder.glob("*.jpg"))[5:]:
        jpg.rename(folder / "second pass" / jpg.name)


@pytest.mark.parametrize(
    ("case", "make", "mention"),
    [
        ("motion photos", _motion_photos, None),
        ("sync copies", _sync_copies, "(1).jpg (= DJI_0001.jpg)"),
        ("LZW TIFF", _tiff, None),
        ("DJI card layout", _dji_card, None),
        # not copied into the job, so only the CLI's own scan can name them (before: said nothing)
        ("text saved as .jpg, a RAW file", _files_that_are_not_photos,
         "left out: 1 skipped, not a photo: DSC_9999.jpg"),
        ("one pass per folder", _second_pass, None),
    ],
)
def test_issue_cases_are_placed_by_spaceport_run(case, make, mention, drone, tmp_path, capsys):
    photos = tmp_path / "photos"
    shutil.copytree(drone, photos)
    make(photos)
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    code, output, metrics = spaceport_run(photos, tmp_path / "data", capsys, "--stop-after", "sfm")
    assert code == cli.EXIT_OK, output
    assert metrics["images_in"] == 10 and metrics["images_registered"] == 10, metrics
    if mention:
        assert mention in output
    assert "s3://" not in output
    assert {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()} == before


def test_a_refused_folder_leaves_nothing_behind_and_names_local_paths(drone, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for jpg in sorted(drone.glob("*.jpg"))[:3]:
        shutil.copy(jpg, photos / jpg.name)
    code, output, _ = spaceport_run(photos, tmp_path / "data", capsys)
    assert code == cli.EXIT_USAGE and "too_few_images" in output
    assert str(photos) in output and "s3://" not in output
    inbox = tmp_path / "data/spaceport/inbox"
    assert not inbox.exists() or not any(inbox.iterdir())


def test_a_job_refused_after_copying_takes_its_copy_back(drone, tmp_path, capsys, monkeypatch):
    from services.ingest import logic
    from shared.causes import CauseCode
    from shared.errors import UserInputError

    def refuse(*args, **kwargs):
        raise UserInputError(CauseCode.INVALID_REQUEST, "refused for the test")

    monkeypatch.setattr(logic, "validate_photo_set", refuse)
    code, output, _ = spaceport_run(drone, tmp_path / "data", capsys)
    assert code == cli.EXIT_USAGE and "refused for the test" in output
    assert not any((tmp_path / "data/spaceport/inbox").iterdir())


def test_cut_out_photos_train_on_the_object_only(tiny_training, tmp_path, capsys):
    photos = tmp_path / "cutouts"
    render_masked_orbit(photos, n_images=16, width=320, height=240, seed=3)
    code, output, metrics = spaceport_run(photos, tmp_path / "data", capsys)
    assert code == cli.EXIT_OK, output
    assert "16 photos with masks" in output
    (job_dir,) = (tmp_path / "data/spaceport/jobs").iterdir()
    train = json.loads((job_dir / "train/metrics.json").read_text())
    # Every view training had carries its mask (SfM on all cores places 11-16 of these marginal
    # 320x240 cut-outs, run to run: tests/stage/sfm/test_sfm_stage_pose_support.py).
    trained_views = train["n_train_views"] + train["n_test_views"]
    assert train["masked_views"] == trained_views == metrics["images_registered"]
    assert train["psnr"] > 15.0  # on the object's pixels (19.6 dB measured; the issue saw 10.3 dB)
    report = json.loads((job_dir / "notify/report.json").read_text())
    assert report["photos"]["with_masks"] == 16
    preview = np.asarray(Image.open(next((job_dir / "train/previews").glob("*.png"))))
    assert (preview.max(axis=2) < 10).mean() < 0.05  # ignored pixels show a checkerboard, not black
    email = next((tmp_path / "data/outbox").glob("*.eml")).read_text()
    assert "Photos with masks" in email


def test_two_captures_in_one_folder_are_named_everywhere(tiny_training, tmp_path, capsys):
    photos = tmp_path / "two"
    render_scene("orbit", photos, n_images=16, width=320, height=240, seed=3)
    render_scene("drone", tmp_path / "facade", n_images=11, width=320, height=240, seed=4)
    for jpg in sorted((tmp_path / "facade").glob("*.jpg")):
        shutil.copy(jpg, photos / jpg.name)
    code, output, metrics = spaceport_run(photos, tmp_path / "data", capsys)
    assert code == cli.EXIT_OK, output
    unplaced = [f"DJI_{k:04d}.jpg" for k in range(1, 12)]
    assert metrics["unplaced_photos"] == unplaced and metrics["photo_groups"] == [16, 11]
    assert "not placed in 3D (11 of 27)" in output and "2 separate groups (16, 11 photos)" in output
    (job_dir,) = (tmp_path / "data/spaceport/jobs").iterdir()
    report = json.loads((job_dir / "notify/report.json").read_text())
    assert report["sfm"]["unplaced_photos"] == unplaced and report["sfm"]["photo_groups"] == [16, 11]
    assert "Separate groups" in (job_dir / "notify/report.html").read_text()
    email = next((tmp_path / "data/outbox").glob("*.eml")).read_text()
    assert "Not placed in 3D" in email and "DJI_0001.jpg" in email
    job_id = job_dir.name
    assert cli.main(["status", job_id, "--data-dir", str(tmp_path / "data")]) == cli.EXIT_OK
    status = capsys.readouterr().out
    assert "not placed in 3D" in status and "separate groups" in status
