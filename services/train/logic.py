"""Training service: SfmCompleted -> SageMaker Training job (gsplat) -> TrainingCompleted."""

from __future__ import annotations

from typing import Any

from shared import stage_service
from shared.events import Event, SfmCompleted, TrainingCompleted
from shared.jobs import Job
from shared.layout import stage_uri
from shared.options import JobOptions
from shared.ports import Envelope, Pipeline, Ports


def build_config(options: JobOptions) -> dict[str, Any]:
    from services.train.container.config import Config

    return Config.from_options(options).model_dump(mode="json", exclude={"checkpoint_dir"})


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def completed(job: Job, metrics: dict[str, Any], output_uri: str, seconds: float) -> Event:
    return TrainingCompleted(
        job_id=job.job_id,
        train_uri=output_uri,
        model_uri=output_uri + "model.ply",
        gaussians=int(metrics["n_gaussians"]),
        psnr=_optional_float(metrics.get("psnr")),
        ssim=_optional_float(metrics.get("ssim")),
        lpips=_optional_float(metrics.get("lpips")),
        duration_s=round(seconds, 3),
    )


SPEC = stage_service.StageSpec(
    stage="train",
    trigger=SfmCompleted,
    input_uri=lambda job, pipeline: stage_uri(pipeline.bucket, job.job_id, "sfm"),
    build_config=build_config,
    completed=completed,
    uses_checkpoints=True,
)


def handle(envelope: Envelope, ports: Ports, pipeline: Pipeline) -> None:
    stage_service.handle(SPEC, envelope, ports, pipeline)
