"""The real stage programs (pycolmap SfM, CPU training, SOG compression) through the local
runtime on a small rendered scene with known cameras. Slow: about a minute or two on 2 cores."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from services.ingest.logic import SubmitRequest, submit_job
from shared import stage_service
from shared.jobs import JobState
from shared.options import JobOptions
from spaceport.demo import pose_errors, read_colmap_poses
from spaceport.runtime import LocalRuntime

pytestmark = pytest.mark.slow

# Few steps at low resolution: enough to prove the stages chain, not to make a good model.
TINY_TRAIN = {
    "steps": 200,
    "refine_start": 50,
    "refine_stop": 150,
    "refine_every": 50,
    "reset_every": 1000,
    "sh_degree_interval": 100,
    "checkpoint_every": 100,
    "num_threads": 1,
    "max_gaussians": 20_000,
}


def test_rendered_drone_scene_becomes_a_model_sog_with_poses_close_to_the_truth(tmp_path, monkeypatch):
    synthetic = pytest.importorskip("spaceport.synthetic")
    pytest.importorskip("pycolmap")
    pytest.importorskip("torch")
    from services.train import logic as train_logic

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    runtime = LocalRuntime(tmp_path / "data", poll_interval_s=0.1)
    tiny = replace(
        train_logic.SPEC, build_config=lambda options: {**train_logic.build_config(options), **TINY_TRAIN}
    )
    runtime.handlers["train"] = lambda envelope, ports, pipeline: stage_service.handle(
        tiny, envelope, ports, pipeline
    )
    inbox = runtime.inbox_dir("drone")
    truth = synthetic.render_scene("drone", tmp_path / "render", n_images=10, width=480, height=360, seed=11)
    inbox.mkdir(parents=True)
    for image in truth.images:
        os.link(tmp_path / "render" / image.name, inbox / image.name)
    options = JobOptions(preset="preview", max_image_size=480, sh_degree=0)
    with runtime.running():
        job = submit_job(
            SubmitRequest(inbox="drone", email="a@example.com", options=options),
            "local",
            runtime.ports,
            runtime.pipeline,
        )
        assert runtime.drive(lambda: runtime.settled(job.job_id) or runtime.stuck(job.job_id), timeout_s=900)
    job = runtime.table.get(job.job_id)
    assert job.state is JobState.SUCCEEDED, job.failure
    job_dir = runtime.job_dir(job.job_id)
    assert (job_dir / "compress/model.sog").stat().st_size > 1000
    errors = pose_errors(read_colmap_poses(job_dir / "sfm/sparse/0"), truth.poses())
    assert errors["registered"] >= 9
    assert errors["rotation_error_median_deg"] < 1.0
    assert errors["position_error_median"] < 0.02
    report = json.loads((job_dir / "notify/report.json").read_text())
    assert report["job_id"] == job.job_id
