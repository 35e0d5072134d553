"""Compression service: TrainingCompleted -> SageMaker Processing job (SOG) -> CompressionCompleted."""

from __future__ import annotations

from typing import Any

from shared import stage_service
from shared.events import CompressionCompleted, Event, TrainingCompleted
from shared.jobs import Job
from shared.layout import stage_uri
from shared.options import JobOptions
from shared.ports import Envelope, Pipeline, Ports


def build_config(options: JobOptions) -> dict[str, Any]:
    from services.compress.container.config import Config

    return Config.from_options(options).model_dump(mode="json")


def completed(job: Job, metrics: dict[str, Any], output_uri: str, seconds: float) -> Event:
    return CompressionCompleted(
        job_id=job.job_id,
        compress_uri=output_uri,
        sog_uri=output_uri + "model.sog",
        sog_bytes=int(metrics["sog_bytes"]),
        ply_bytes=int(metrics["ply_bytes"]),
        duration_s=round(seconds, 3),
    )


SPEC = stage_service.StageSpec(
    stage="compress",
    trigger=TrainingCompleted,
    input_uri=lambda job, pipeline: stage_uri(pipeline.bucket, job.job_id, "train"),
    build_config=build_config,
    completed=completed,
)


def handle(envelope: Envelope, ports: Ports, pipeline: Pipeline) -> None:
    stage_service.handle(SPEC, envelope, ports, pipeline)
