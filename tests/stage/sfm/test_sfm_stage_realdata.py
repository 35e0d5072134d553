"""The SfM stage on a real photo set (../shared/data/fountain_p11, 11 photos) at low resolution.

Marked slow + realdata: deselect with `-m "not realdata"`; skipped when ../shared is absent.
"""

import json
from pathlib import Path

import pytest

from services.sfm.container.config import Config
from services.sfm.container.evaluation import load_strecha_cameras, pose_errors, poses_from_model
from services.sfm.container.program import run
from shared.stage import EXIT_OK, METRICS_FILE, StageName, execute_stage

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FOUNTAIN = DATA / "fountain_p11"


@pytest.fixture
def fountain():
    if not (FOUNTAIN / "images").is_dir():
        pytest.skip(f"{FOUNTAIN} not available")
    return FOUNTAIN


def test_fountain_facade_registers_all_photos_close_to_ground_truth(fountain, tmp_path):
    cfg = Config(max_image_size=640, max_num_features=2048, num_threads=2)
    assert execute_stage(StageName.SFM, run, cfg, fountain / "images", tmp_path) == EXIT_OK
    metrics = json.loads((tmp_path / METRICS_FILE).read_text())
    assert metrics["images_registered"] == 11
    assert any("no EXIF focal length" in w for w in metrics["warnings"])  # these photos carry no EXIF
    errors = pose_errors(poses_from_model(tmp_path / "sparse" / "0"), load_strecha_cameras(fountain / "gt"))
    assert errors.rotation_median_deg < 1.0
    assert errors.centre_median_rel < 0.02
    assert errors.outliers == ()
