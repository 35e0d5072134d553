"""`spaceport run --colmap DIR` (or a photo folder with sparse/0) reuses the COLMAP model: the
real SfM stage imports it (no new solve), training gets the undistorted model, and the report says
where the poses came from. Train and compress are the instant test stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pycolmap")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stage" / "sfm"))
from test_sfm_import import colmap_project  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests/support/fake_stage.py"


def spaceport(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SPACEPORT_STAGE_COMMAND": f"{sys.executable} {FAKE} {{stage}}",
        "FAKE_STAGE": "sfm=real",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        [sys.executable, "-m", "spaceport.cli", *args, "--data-dir", str(data), "--max-image-size", "512"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def only_job(data: Path) -> Path:
    (job_dir,) = (data / "spaceport/jobs").iterdir()
    return job_dir


@pytest.mark.parametrize("how", ["--colmap", "photos folder"])
def test_a_colmap_project_is_trained_from_its_model(tmp_path, how):
    source = colmap_project(tmp_path / "project")
    args = ("run", "--colmap", str(tmp_path / "project")) if how == "--colmap" else ("run", str(tmp_path / "project"))
    result = spaceport(*args, data=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "no new camera solve" in result.stdout
    job_dir = only_job(tmp_path / "data")
    metrics = json.loads((job_dir / "sfm/metrics.json").read_text())
    assert metrics["model_source"] == "imported" and metrics["images_registered"] == source.num_reg_images()
    assert "extract" not in metrics["seconds"]  # no feature extraction: nothing was solved
    report = json.loads((job_dir / "notify/report.json").read_text())
    assert report["sfm"]["model_source"] == "imported"
    assert "imported from your COLMAP model" in (job_dir / "notify/report.html").read_text()


def test_solve_ignores_a_model_in_the_photos_folder(tmp_path):
    colmap_project(tmp_path / "project")
    result = spaceport("run", str(tmp_path / "project"), "--solve", "--stop-after", "sfm", data=tmp_path / "data")
    assert "no new camera solve" not in result.stdout
    job = json.loads(
        subprocess.run(
            [sys.executable, "-m", "spaceport.cli", "status", "--json", "--data-dir", str(tmp_path / "data")],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout
    )[0]  # fmt: skip
    assert job["options"]["sfm_mode"] == "solve"


def test_colmap_without_a_model_is_a_usage_error_before_anything_is_copied(tmp_path):
    (tmp_path / "empty/images").mkdir(parents=True)
    result = spaceport("run", "--colmap", str(tmp_path / "empty"), data=tmp_path / "data")
    assert result.returncode == 2
    assert "no COLMAP model" in result.stderr and "sparse/0" in result.stderr
    assert not (tmp_path / "data/spaceport").exists()
