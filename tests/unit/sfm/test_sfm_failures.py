"""Failure causes: too few / unreadable / oversized photos, no overlap, low registration."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from services.sfm.container.config import Config
from services.sfm.container.matching import MatcherPlan
from services.sfm.container.photos import PhotoSet
from services.sfm.container.program import _check_model, check_inputs, run
from shared.causes import CauseCode
from shared.stage import EXIT_INPUT, FAILURE_FILE, StageFailure, StageName, execute_stage


class FakeModel:
    """Stands in for a pycolmap.Reconstruction in the model checks."""

    def __init__(self, registered: int, points: int = 5000) -> None:
        self._registered, self._points = registered, points

    def num_reg_images(self) -> int:
        return self._registered

    def num_points3D(self) -> int:  # noqa: N802 - pycolmap's name
        return self._points


def photo_set(n: int, unreadable=(), too_large=()) -> PhotoSet:
    return PhotoSet(
        photos=[SimpleNamespace(focal_source="exif_35mm", masked=False, focal_tags_ignored=[])] * n,
        unreadable=list(unreadable),
        too_large=list(too_large),
        duplicates=[],
        ignored=[],
    )


def write_noise(folder, n, size=(64, 48)):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        pixels = (np.random.default_rng(k).random((size[1], size[0], 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{k:03d}.jpg")


def test_too_few_photos_fail_with_too_few_images():
    with pytest.raises(StageFailure) as failure:
        check_inputs(photo_set(3), Config(min_images=8))
    assert failure.value.cause is CauseCode.TOO_FEW_IMAGES
    assert "3 usable photos" in failure.value.message


def test_unreadable_photos_are_named_when_they_leave_too_few():
    with pytest.raises(StageFailure) as failure:
        check_inputs(photo_set(6, unreadable=["x.jpg", "y.heic"]), Config(min_images=8))
    assert failure.value.cause is CauseCode.UNREADABLE_IMAGES
    assert "x.jpg" in failure.value.message and "y.heic" in failure.value.message


def test_a_few_unreadable_photos_among_many_only_warn():
    warnings = check_inputs(photo_set(10, unreadable=["x.jpg"]), Config(min_images=8))
    assert any("x.jpg" in w for w in warnings)


def test_an_oversized_photo_among_many_is_skipped_and_named():
    warnings = check_inputs(photo_set(10, too_large=["huge.png"]), Config())
    assert any("huge.png" in w and "megapixels" in w for w in warnings)


def test_oversized_photos_that_leave_too_few_fail_with_image_too_large():
    with pytest.raises(StageFailure) as failure:
        check_inputs(photo_set(5, too_large=["a.png", "b.png", "c.png"]), Config())
    assert failure.value.cause is CauseCode.IMAGE_TOO_LARGE and "a.png" in failure.value.message


def test_no_model_fails_with_no_overlap(tmp_path, monkeypatch):
    monkeypatch.setattr("services.sfm.container.program.count_verified_pairs", lambda db, min_inliers: 2)
    with pytest.raises(StageFailure) as failure:
        _check_model(None, 10, tmp_path / "db", MatcherPlan("exhaustive", None, ""), None, Config())
    assert failure.value.cause is CauseCode.NO_OVERLAP
    assert "2 photo pairs" in failure.value.message


def test_low_registration_reports_the_ratio(tmp_path):
    with pytest.raises(StageFailure) as failure:
        _check_model(
            FakeModel(4),
            10,
            tmp_path / "db",
            MatcherPlan("spatial", "exhaustive", ""),
            "exhaustive",
            Config(min_registration_ratio=0.5),
        )
    assert failure.value.cause is CauseCode.LOW_REGISTRATION
    assert "4 of 10" in failure.value.message and "40%" in failure.value.message
    assert "spatial then exhaustive" in failure.value.message


def test_low_registration_names_the_photos_left_out_and_the_groups(tmp_path):
    photos = [SimpleNamespace(name=f"c{k}.jpg", original=f"day 1/c{k}.JPG") for k in range(10)]
    model = SimpleNamespace(
        num_reg_images=lambda: 4,
        num_points3D=lambda: 5000,
        images={k: SimpleNamespace(name=f"c{k}.jpg", has_pose=True) for k in range(4)},
    )
    groups = [[f"c{k}.jpg" for k in range(4)], [f"c{k}.jpg" for k in range(4, 10)]]
    with pytest.raises(StageFailure) as failure:
        _check_model(
            model, 10, tmp_path / "db", MatcherPlan("exhaustive", None, ""), None, Config(), groups, photos
        )
    assert "2 separate groups" in failure.value.message and "(6, 4)" in failure.value.message
    assert "day 1/c4.JPG" in failure.value.message


def test_model_without_enough_points_is_degenerate(tmp_path):
    with pytest.raises(StageFailure) as failure:
        _check_model(
            FakeModel(10, points=20),
            10,
            tmp_path / "db",
            MatcherPlan("exhaustive", None, ""),
            None,
            Config(min_points3d=100),
        )
    assert failure.value.cause is CauseCode.DEGENERATE_MODEL


def test_good_model_passes(tmp_path):
    _check_model(FakeModel(9), 10, tmp_path / "db", MatcherPlan("exhaustive", None, ""), None, Config())


def test_stage_with_two_photos_writes_failure_json_and_exits_2(tmp_path):
    write_noise(tmp_path / "in", 2, size=(320, 240))
    code = execute_stage(StageName.SFM, run, Config(), tmp_path / "in", tmp_path / "out")
    assert code == EXIT_INPUT
    body = json.loads((tmp_path / "out" / FAILURE_FILE).read_text())
    assert body["cause"] == "too_few_images"
    assert body["advice"]
