"""The test plays SageMaker: writes a stage's outputs and builds its job-state-change event."""

from __future__ import annotations

import json
from typing import Any

from shared.events import PROCESSING_STATE_CHANGE, TRAINING_STATE_CHANGE
from shared.ports import Envelope, JobDescription, ObjectStore

SFM_METRICS = {
    "status": "succeeded", "images_in": 10, "images_registered": 10, "registration_ratio": 1.0, "points3d": 5000,
    "mean_reprojection_error_px": 0.61, "mean_track_length": 4.2, "matcher": "exhaustive", "georeferenced": False,
}
TRAIN_METRICS = {"status": "succeeded", "n_gaussians": 120_000, "psnr": 27.4, "ssim": 0.88, "lpips": None,
                 "n_test_views": 2}
COMPRESS_METRICS = {"status": "succeeded", "splats_in": 120_000, "splats_out": 118_000, "ply_bytes": 29_760_000,
                    "sog_bytes": 1_200_000, "ratio": 24.8}
METRICS = {"sfm": SFM_METRICS, "train": TRAIN_METRICS, "compress": COMPRESS_METRICS}


def state_change_detail(
    stage: str, run_name: str, status: str, reason: str | None = None, secondary: str | None = None
) -> tuple[str, dict[str, Any]]:
    """A state change as SageMaker sends it: training `reason` is FailureReason, processing
    `reason` is ExitMessage (the program's message); `secondary` is a training SecondaryStatus."""
    if stage == "train":
        detail: dict[str, Any] = {"TrainingJobName": run_name, "TrainingJobStatus": status,
                                  "SecondaryStatus": secondary or status,
                                  "TrainingStartTime": 1_790_000_000_000, "TrainingEndTime": 1_790_000_600_000}
        if reason:
            detail["FailureReason"] = reason
        return TRAINING_STATE_CHANGE, detail
    detail = {"ProcessingJobName": run_name, "ProcessingJobStatus": status,
              "ProcessingStartTime": 1_790_000_000_000, "ProcessingEndTime": 1_790_000_300_000}
    if reason:
        detail["ExitMessage"] = reason
    return PROCESSING_STATE_CHANGE, detail


def description(stage: str, run_name: str, status: str, reason: str | None = None,
                secondary: str | None = None) -> JobDescription:
    """What Describe*Job answers for that end state."""
    return JobDescription(*state_change_detail(stage, run_name, status, reason, secondary))


def finish_stage(store: ObjectStore, stage: str, output_uri: str, run_name: str) -> Envelope:
    """Write what a successful stage writes, and return its Completed event."""
    store.put_bytes(output_uri + "metrics.json", json.dumps(METRICS[stage]).encode(), "application/json")
    if stage == "train":
        store.put_bytes(output_uri + "model.ply", b"ply\n", "application/octet-stream")
        store.put_bytes(output_uri + "previews/view_000.png", b"\x89PNG\r\n\x1a\n", "image/png")
    if stage == "compress":
        store.put_bytes(output_uri + "model.sog", b"PK", "application/zip")
    detail_type, detail = state_change_detail(stage, run_name, "Completed")
    return Envelope("aws.sagemaker", detail_type, detail, event_id=f"{run_name}-done")


def fail_stage(
    stage: str, run_name: str, reason: str, status: str = "Failed", secondary: str | None = None
) -> Envelope:
    detail_type, detail = state_change_detail(stage, run_name, status, reason, secondary)
    return Envelope("aws.sagemaker", detail_type, detail, event_id=f"{run_name}-{status}")
