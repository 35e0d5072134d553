"""No capture check fires on clean photo sets: the demo scenes, and the shared real sets when present.

The real sets (../shared/data: banana, caliterra, fountain_p11) are measured at 1000 px, the
preview preset's working size; bench/capture_bench.py prints their figures at 1600 px.
"""

from pathlib import Path

import pytest

from services.sfm.container.capture import add_feature_counts, feature_counts, measure_set
from services.sfm.container.config import Config
from services.sfm.container.features import extract_features
from services.sfm.container.photos import group_cameras, prepare_photos
from services.sfm.container.workcopy import EXACT
from spaceport.synthetic import render_scene

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def flagged_on(photos_dir: Path, scratch: Path, size: int) -> dict[str, list[str]]:
    cfg = Config(max_image_size=size, max_num_features=2048, num_threads=2)
    photo_set = prepare_photos(photos_dir, scratch / "images", size, 0, scratch / "masks")
    findings = measure_set(photo_set.photos, scratch / "images", scratch / "masks" / EXACT)
    extract_features(scratch / "db.db", scratch / "images", list(group_cameras(photo_set.photos).values()), cfg)
    add_feature_counts(findings, feature_counts(scratch / "db.db"))
    ignored = [p.original for p in photo_set.photos if p.focal_tags_ignored]
    return {**findings.flagged(), "focal_tags_ignored": ignored}


@pytest.mark.parametrize(("kind", "n"), [("drone", 24), ("orbit", 16)])
def test_demo_scenes_raise_no_capture_check(tmp_path, kind, n):
    render_scene(kind, tmp_path / "photos", n_images=n, width=480, height=360, seed=0)
    flagged = flagged_on(tmp_path / "photos", tmp_path / "scratch", 480)
    assert not any(flagged.values()), flagged


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["banana", "caliterra", "fountain_p11"])
def test_shared_real_sets_raise_no_capture_check(tmp_path, name):
    if not (DATA / name / "images").is_dir():
        pytest.skip(f"{DATA / name} not available")
    flagged = flagged_on(DATA / name / "images", tmp_path, 1000)
    assert not any(flagged.values()), flagged
