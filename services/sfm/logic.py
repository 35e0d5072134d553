"""SfM service: JobSubmitted -> SageMaker Processing job (pycolmap) -> SfmCompleted."""

from __future__ import annotations

from typing import Any

from shared import stage_service
from shared.events import Event, JobSubmitted, SfmCompleted
from shared.jobs import Job
from shared.options import JobOptions
from shared.ports import Envelope, Pipeline, Ports


def build_config(options: JobOptions) -> dict[str, Any]:
    from services.sfm.container.config import Config

    return Config.from_options(options).model_dump(mode="json")


def completed(job: Job, metrics: dict[str, Any], output_uri: str, seconds: float) -> Event:
    return SfmCompleted(
        job_id=job.job_id,
        sfm_uri=output_uri,
        images_total=int(metrics["images_in"]),
        images_registered=int(metrics["images_registered"]),
        points=int(metrics["points3d"]),
        reprojection_error_px=float(metrics["mean_reprojection_error_px"]),
        matcher=str(metrics["matcher"]),
        georeferenced=bool(metrics.get("georeferenced", False)),
        duration_s=round(seconds, 3),
    )


SPEC = stage_service.StageSpec(
    stage="sfm",
    trigger=JobSubmitted,
    input_uri=lambda job, pipeline: job.inbox_uri,
    build_config=build_config,
    completed=completed,
)


def handle(envelope: Envelope, ports: Ports, pipeline: Pipeline) -> None:
    stage_service.handle(SPEC, envelope, ports, pipeline)
