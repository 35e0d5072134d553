"""The choreography every compute stage (sfm, train, compress) follows.

A stage service hears three things and does one thing for each:

- its trigger (the previous stage's completion event): claim the job for this stage, write the
  stage config, launch the compute job under a deterministic name. A duplicate trigger finds the
  job already claimed and the compute job already there, and changes nothing.
- a SageMaker job-state change for one of its own jobs (from EventBridge, or from the reconciler
  that describes jobs whose event never came): on Completed, read `metrics.json`, mark the stage
  done and publish the completion event; on Failed/Stopped, find the true cause
  (shared/failures.py), relaunch once when the platform failed (capacity - then on demand, not
  spot -, throttling, spot) or mark the job failed and publish `JobFailed`.
- `JobCancelRequested`: stop its compute job if one runs.

A launch refused by a service quota fails the job at once with advice naming the quota; a launch
that finds its job already there describes it, and feeds a finished one through the same path as
its event (the event may be long gone).

Publishing is at-least-once: when a redelivered message finds its state change already written,
the event is published again (consumers are idempotent), so a crash between the write and the
publish never strands a job.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.causes import TRANSIENT_CAUSES, CauseCode
from shared.errors import QuotaExceeded
from shared.events import (
    SAGEMAKER_SOURCE,
    Event,
    JobCancelRequested,
    JobFailed,
    SageMakerJobStateChange,
    StageStarted,
    parse_event,
)
from shared.failures import classify_failure, lacks_program_report
from shared.jobs import DONE, READY_FOR, RUNNING, FailureInfo, Job, JobState, StageRecord, states_before
from shared.layout import (
    checkpoint_uri,
    config_uri,
    metrics_uri,
    parse_sagemaker_job_name,
    sagemaker_job_name,
    stage_uri,
)
from shared.options import JobOptions
from shared.ports import Envelope, Pipeline, Ports, StageRun
from shared.sagemaker_jobs import TERMINAL_STATUSES
from shared.stage import FailureReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StageSpec:
    """What differs between the three compute stages."""

    stage: str  # sfm | train | compress
    trigger: type[Event]  # the event that starts this stage
    input_uri: Callable[[Job, Pipeline], str]  # the folder the program reads
    build_config: Callable[[JobOptions], dict[str, Any]]  # stage Config from the job's options
    completed: Callable[[Job, dict[str, Any], str, float], Event]  # (job, metrics, output uri, seconds)
    uses_checkpoints: bool = False


def handle(spec: StageSpec, envelope: Envelope, ports: Ports, pipeline: Pipeline) -> None:
    if envelope.source == SAGEMAKER_SOURCE:
        change = SageMakerJobStateChange.from_detail(envelope.detail_type, envelope.detail)
        on_job_state_change(spec, change, ports, pipeline)
        return
    event = parse_event(envelope.detail_type, envelope.detail)
    if isinstance(event, JobCancelRequested):
        on_cancel(spec, event, ports)
    elif isinstance(event, spec.trigger):
        on_trigger(spec, event, ports, pipeline)
    else:
        logger.warning("ignored event", extra={"detail_type": envelope.detail_type, "stage": spec.stage})


def on_trigger(spec: StageSpec, event: Event, ports: Ports, pipeline: Pipeline) -> None:
    job = ports.table.get(event.job_id)
    if job is None:
        logger.warning("trigger for unknown job", extra={"job_id": event.job_id})
        return
    ready, running = READY_FOR[spec.stage], RUNNING[spec.stage]
    if job.state not in (ready, running):
        logger.info("stale trigger ignored", extra={"job_id": job.job_id, "state": str(job.state)})
        return
    existing = job.stages.get(spec.stage)
    attempt = existing.attempt if existing else 1
    run = _stage_run(spec, job, pipeline, attempt)
    if job.state is ready:
        record = StageRecord(
            status="running",
            run_name=run.run_name,
            attempt=attempt,
            instance_type=run.instance_type,
            started_at=datetime.now(UTC),
            output_uri=run.output_uri,
        )
        claimed = ports.table.update(
            job.job_id,
            allowed_from=frozenset({ready}),
            state=running,
            changes={f"stages.{spec.stage}": record.model_dump(mode="json")},
        )
        if not claimed:
            current = ports.table.get(job.job_id)
            if current is None or current.state is not running:
                return
    _launch(spec, run, attempt, ports, pipeline)


def _stage_run(spec: StageSpec, job: Job, pipeline: Pipeline, attempt: int) -> StageRun:
    defaults = pipeline.stages[spec.stage]
    return StageRun(
        stage=spec.stage,
        run_name=sagemaker_job_name(spec.stage, job.job_id, attempt),
        job_id=job.job_id,
        input_uri=spec.input_uri(job, pipeline),
        output_uri=stage_uri(pipeline.bucket, job.job_id, spec.stage),
        config=spec.build_config(job.options),
        config_uri=config_uri(pipeline.bucket, job.job_id, spec.stage),
        instance_type=defaults.instance_type,
        max_runtime_s=defaults.max_runtime_s,
        spot=defaults.spot and attempt == 1,  # a relaunch (no spot capacity, reclaimed) runs on demand
        checkpoint_uri=checkpoint_uri(pipeline.bucket, job.job_id) if spec.uses_checkpoints else None,
    )


def _launch(spec: StageSpec, run: StageRun, attempt: int, ports: Ports, pipeline: Pipeline) -> None:
    ports.store.put_bytes(
        run.config_uri + "config.json", json.dumps(run.config, sort_keys=True).encode(), "application/json"
    )
    try:
        created = ports.launcher.launch(run)
    except QuotaExceeded as refused:
        _fail_on_quota(spec, run, refused, ports)
        return
    logger.info("stage launched" if created else "stage already launched", extra={"run_name": run.run_name})
    if created:
        ports.bus.publish(
            StageStarted(
                job_id=run.job_id,
                stage=spec.stage,  # type: ignore[arg-type]
                run_name=run.run_name,
                instance_type=run.instance_type,
                attempt=attempt,
            )
        )
        return
    # It exists already: a duplicate trigger (still running), or one whose end event is gone.
    description = ports.launcher.describe(spec.stage, run.run_name)
    if description is not None:
        change = SageMakerJobStateChange.from_detail(description.detail_type, description.detail)
        if change.status in TERMINAL_STATUSES:
            on_job_state_change(spec, change, ports, pipeline)


def _fail_on_quota(spec: StageSpec, run: StageRun, refused: QuotaExceeded, ports: Ports) -> None:
    stage_parameter = f"{spec.stage.capitalize()}InstanceType"
    report = FailureReport(
        cause=CauseCode.SERVICE_QUOTA,
        message=f"AWS refused to start the {spec.stage} job on {run.instance_type}: {refused.detail}"[:900],
        advice=(
            f"Ask the AWS account's administrator to raise the SageMaker quota \"{refused.quota}\" "
            "(Service Quotas console, Amazon SageMaker; new accounts often have 0), or to deploy "
            f"with another {stage_parameter}"
            + (" or with TrainUseSpot=false" if run.spot else "")
            + ". Then submit the job again."
        ),
    )
    job = ports.table.get(run.job_id)
    record = job.stages.get(spec.stage) if job is not None else None
    fail_job(run.job_id, spec.stage, report, ports, record=record)


def on_job_state_change(spec: StageSpec, change: SageMakerJobStateChange, ports: Ports, pipeline: Pipeline) -> None:
    parsed = parse_sagemaker_job_name(change.job_name)
    if parsed is None or parsed[0] != spec.stage:
        logger.warning("state change for a job that is not ours", extra={"job_name": change.job_name})
        return
    _, job_id, attempt = parsed
    job = ports.table.get(job_id)
    if job is None:
        logger.warning("state change for unknown job", extra={"job_id": job_id})
        return
    record = job.stages.get(spec.stage)
    if record is None or record.attempt != attempt:
        logger.info("state change for a superseded attempt", extra={"job_name": change.job_name})
        return
    if spec.stage != "train" and lacks_program_report(change):
        # A processing event without ExitMessage: the job's description has it.
        description = ports.launcher.describe(spec.stage, change.job_name)
        if description is not None:
            described = SageMakerJobStateChange.from_detail(description.detail_type, description.detail)
            if described.status == change.status:
                change = described
    if change.status == "Completed":
        _on_completed(spec, job, record, change, ports, pipeline)
    elif change.status in ("Failed", "Stopped"):
        _on_failed(spec, job, record, change, ports, pipeline)


def _duration(record: StageRecord, change: SageMakerJobStateChange, ended: datetime) -> float:
    started = change.start_time or record.started_at
    return max(0.0, (ended - started).total_seconds())


def _on_completed(
    spec: StageSpec,
    job: Job,
    record: StageRecord,
    change: SageMakerJobStateChange,
    ports: Ports,
    pipeline: Pipeline,
) -> None:
    if job.state is JobState.CANCELLED:
        return
    metrics = json.loads(ports.store.get_bytes(metrics_uri(pipeline.bucket, job.job_id, spec.stage)))
    ended = change.end_time or datetime.now(UTC)
    duration = _duration(record, change, ended)
    done = record.model_copy(
        update={"status": "succeeded", "ended_at": ended, "duration_s": round(duration, 3), "metrics": metrics}
    )
    written = ports.table.update(
        job.job_id,
        allowed_from=frozenset({RUNNING[spec.stage]}),
        state=DONE[spec.stage],
        changes={f"stages.{spec.stage}": done.model_dump(mode="json")},
    )
    if not written:
        current = ports.table.get(job.job_id)
        already = current is not None and current.stages.get(spec.stage, record).status == "succeeded"
        if not already:
            logger.info("completion ignored", extra={"job_id": job.job_id, "state": str(job.state)})
            return
        done = current.stages[spec.stage]  # type: ignore[union-attr]
        duration = done.duration_s or duration
    ports.bus.publish(spec.completed(job, metrics, record.output_uri, duration))


def _on_failed(
    spec: StageSpec,
    job: Job,
    record: StageRecord,
    change: SageMakerJobStateChange,
    ports: Ports,
    pipeline: Pipeline,
) -> None:
    if job.state is JobState.CANCELLED:
        return  # the cancel already told the user
    defaults = pipeline.stages[spec.stage]
    report = classify_failure(change, spec.stage, defaults.max_runtime_s)
    if report.cause in TRANSIENT_CAUSES and record.attempt < defaults.max_attempts:
        _relaunch(spec, job, record, ports, pipeline)
        return
    fail_job(job.job_id, spec.stage, report, ports, record=record)


def _relaunch(spec: StageSpec, job: Job, record: StageRecord, ports: Ports, pipeline: Pipeline) -> None:
    attempt = record.attempt + 1
    run = _stage_run(spec, job, pipeline, attempt)
    retry = record.model_copy(update={"attempt": attempt, "run_name": run.run_name, "status": "running"})
    ports.table.update(
        job.job_id,
        allowed_from=frozenset({RUNNING[spec.stage]}),
        changes={f"stages.{spec.stage}": retry.model_dump(mode="json")},
    )
    _launch(spec, run, attempt, ports, pipeline)


def fail_job(
    job_id: str,
    stage: str,
    report: FailureReport,
    ports: Ports,
    record: StageRecord | None = None,
) -> None:
    """Mark the job failed (if it is not final yet) and publish `JobFailed`, at least once."""
    failure = FailureInfo(stage=stage, cause=report.cause, message=report.message, advice=report.advice)
    changes: dict[str, Any] = {"failure": failure.model_dump(mode="json")}
    if record is not None:
        ended = datetime.now(UTC)
        changes[f"stages.{stage}"] = record.model_copy(
            update={
                "status": "stopped" if report.cause is CauseCode.CANCELLED else "failed",
                "ended_at": ended,
                "duration_s": round((ended - record.started_at).total_seconds(), 3),
            }
        ).model_dump(mode="json")
    written = ports.table.update(
        job_id, allowed_from=states_before(JobState.FAILED), state=JobState.FAILED, changes=changes
    )
    if not written:
        current = ports.table.get(job_id)
        if current is None or current.state is not JobState.FAILED or current.failure is None:
            return
        if current.failure.stage != stage:
            return
        failure = current.failure
    ports.bus.publish(
        JobFailed(
            job_id=job_id,
            stage=stage,  # type: ignore[arg-type]
            cause=failure.cause,
            message=failure.message,
            advice=failure.advice,
        )
    )


def on_cancel(spec: StageSpec, event: JobCancelRequested, ports: Ports) -> None:
    job = ports.table.get(event.job_id)
    if job is None:
        return
    record = job.stages.get(spec.stage)
    if record is None or record.status != "running":
        return
    ports.launcher.stop(spec.stage, record.run_name)
