"""Ingest service: accept a job (API call or manifest drop), validate the photos, record the job,
publish `JobSubmitted`; serve the job's status; cancel on request."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.ingest.photos import PhotoLimits, read_inbox
from shared.causes import CauseCode, advice_for
from shared.errors import NotFoundError, SpaceportError, UserInputError
from shared.events import JobCancelRequested, JobFailed, JobSubmitted, check_email
from shared.jobs import FINAL_STATES, RUNNING, FailureInfo, Job, JobState, states_before
from shared.layout import INBOX, MANIFEST_NAME, checkpoint_uri, new_job_id, resolve_inbox, s3_uri
from shared.options import JobOptions
from shared.ports import Envelope, ObjectStore, Pipeline, Ports
from shared.pricing import typical_stage_seconds
from shared.quality import assess_quality, capture_findings
from shared.stage import PROGRESS_FILE, StageName

logger = logging.getLogger(__name__)

MANIFEST_MAX_BYTES = 16 * 1024
STAGES = ("sfm", "train", "compress")


class SubmitRequest(BaseModel):
    """Body of `POST /jobs`."""

    model_config = ConfigDict(extra="forbid")

    inbox: str = Field(description="inbox folder name (e.g. 'roof-2026-11') or s3://<bucket>/inbox/<name>/")
    email: str = Field(description="where the result (or the reason for a failure) is sent")
    options: JobOptions = Field(default_factory=JobOptions)
    client_token: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="idempotency key: a retry returns the same job"
    )

    _email = field_validator("email")(check_email)


class Manifest(BaseModel):
    """`inbox/<name>/job.json`, uploaded after the photos."""

    model_config = ConfigDict(extra="forbid")

    email: str
    options: JobOptions = Field(default_factory=JobOptions)

    _email = field_validator("email")(check_email)


class PhotoSet(BaseModel):
    count: int
    total_bytes: int
    warnings: list[str] = Field(default_factory=list)  # files left out (duplicates, RAW, ...), named
    videos: int = 0


def inbox_folder_name(inbox_uri: str) -> str:
    """How messages name an inbox: "inbox folder 'roof'" (never an s3:// uri, which local users
    do not have)."""
    return f"inbox folder '{inbox_uri.rstrip('/').rsplit('/', 1)[-1]}'"


def validate_photo_set(store: ObjectStore, inbox_uri: str, limits: PhotoLimits) -> PhotoSet:
    """Raise `UserInputError` with a specific cause and named files, or return the set's size and
    warnings (see services/ingest/photos.py)."""
    inbox = read_inbox(store, inbox_uri, inbox_folder_name(inbox_uri), limits)
    return PhotoSet(
        count=len(inbox.photos),
        total_bytes=inbox.total_bytes,
        warnings=inbox.warnings,
        videos=len(inbox.videos),
    )


def _new_job(job_id: str, owner: str, email: str, inbox_uri: str, options: JobOptions, photos: PhotoSet) -> Job:
    now = datetime.now(UTC)
    return Job(
        job_id=job_id,
        owner=owner,
        email=email,
        inbox_uri=inbox_uri,
        options=options,
        photo_count=photos.count,
        photo_bytes=photos.total_bytes,
        warnings=photos.warnings,
        video_count=photos.videos,
        created_at=now,
        updated_at=now,
    )


def _publish_submitted(job: Job, ports: Ports) -> None:
    ports.bus.publish(JobSubmitted.of(job))


def submit_job(
    request: SubmitRequest, caller: str, ports: Ports, pipeline: Pipeline, limits: PhotoLimits | None = None
) -> Job:
    inbox_uri = resolve_inbox(pipeline.bucket, request.inbox)
    seed = f"api|{caller}|{inbox_uri}|{request.client_token}" if request.client_token else None
    job_id = new_job_id(seed)
    if seed is not None:
        existing = ports.table.get(job_id)
        if existing is not None:
            if existing.state is JobState.SUBMITTED:
                _publish_submitted(existing, ports)  # the first call may have died before publishing
            return existing
    photos = validate_photo_set(ports.store, inbox_uri, limits or PhotoLimits())
    job = _new_job(job_id, caller, request.email, inbox_uri, request.options, photos)
    if not ports.table.create(job):
        job = ports.table.get(job_id) or job
    if job.state is JobState.SUBMITTED:
        _publish_submitted(job, ports)
    return job


def handle(envelope: Envelope, ports: Ports, pipeline: Pipeline, limits: PhotoLimits | None = None) -> None:
    """A manifest (`inbox/<name>/job.json`) was uploaded: submit that folder."""
    bucket = str(envelope.detail.get("bucket", {}).get("name", ""))
    obj = envelope.detail.get("object", {})
    key = str(obj.get("key", ""))
    top_level = key.count("/") == INBOX.count("/") + 1  # inbox/<name>/job.json, not deeper
    is_manifest = key.startswith(INBOX) and key.endswith(f"/{MANIFEST_NAME}") and top_level
    if bucket != pipeline.bucket or not is_manifest:
        logger.warning("not a manifest of ours", extra={"bucket": bucket, "key": key})
        return
    # One job per upload of the manifest: the object's version (versioned bucket) or S3's
    # sequencer tells uploads apart, so a re-upload after a failure is a new job, while a
    # redelivered event of the same upload is the same job. The ETag (content) cannot.
    upload = obj.get("version-id") or obj.get("sequencer") or obj.get("etag") or obj.get("eTag") or ""
    job_id = new_job_id(f"manifest|{bucket}|{key}|{upload}")
    owner = f"manifest:{envelope.detail.get('requester', 'unknown')}"
    existing = ports.table.get(job_id)
    if existing is not None:
        if existing.state is JobState.SUBMITTED:
            _publish_submitted(existing, ports)
        elif existing.state is JobState.FAILED and existing.failure and existing.failure.stage == "ingest":
            _publish_rejection(existing, ports)
        return
    inbox_uri = s3_uri(bucket, key.removesuffix(MANIFEST_NAME))
    email = ""
    try:
        inbox_uri = resolve_inbox(pipeline.bucket, inbox_uri)
        manifest = parse_manifest(ports.store.get_bytes(s3_uri(bucket, key)))
        email = manifest.email
        photos = validate_photo_set(ports.store, inbox_uri, limits or PhotoLimits())
    except UserInputError as rejection:
        email = email or _salvage_email(ports.store, s3_uri(bucket, key))
        _reject(job_id, owner, email, inbox_uri, rejection, ports)
        return
    job = _new_job(job_id, owner, manifest.email, inbox_uri, manifest.options, photos)
    if ports.table.create(job):
        _publish_submitted(job, ports)


def parse_manifest(raw: bytes) -> Manifest:
    if len(raw) > MANIFEST_MAX_BYTES:
        raise UserInputError(CauseCode.INVALID_REQUEST, f"job.json is larger than {MANIFEST_MAX_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserInputError(CauseCode.INVALID_REQUEST, f"job.json is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise UserInputError(CauseCode.INVALID_REQUEST, "job.json must be a JSON object with 'email' and 'options'")
    try:
        return Manifest.model_validate(body)
    except ValidationError as exc:
        raise UserInputError(CauseCode.INVALID_REQUEST, f"job.json is not valid: {describe_validation(exc)}") from exc


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:8]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown field '{where}'")
        elif error["type"] == "missing":
            parts.append(f"missing field '{where}'")
        else:
            parts.append(f"'{where}': {error['msg']}")
    return "; ".join(parts)


def _salvage_email(store: ObjectStore, manifest_uri: str) -> str:
    """The address from a manifest that was rejected for another reason, if it is a valid one."""
    try:
        body = json.loads(store.get_bytes(manifest_uri))
        return check_email(str(body.get("email", "")))
    except Exception:  # noqa: BLE001 - anything wrong means: no address to write to
        return ""


def _reject(job_id: str, owner: str, email: str, inbox_uri: str, rejection: UserInputError, ports: Ports) -> None:
    now = datetime.now(UTC)
    job = Job(
        job_id=job_id,
        owner=owner,
        email=email,
        inbox_uri=inbox_uri,
        options=JobOptions(),
        photo_count=0,
        photo_bytes=0,
        state=JobState.FAILED,
        created_at=now,
        updated_at=now,
        failure=FailureInfo(
            stage="ingest", cause=rejection.cause, message=rejection.message, advice=advice_for(rejection.cause)
        ),
    )
    logger.info("job rejected", extra={"job_id": job_id, "cause": str(rejection.cause)})
    if ports.table.create(job):
        _publish_rejection(job, ports)


def _publish_rejection(job: Job, ports: Ports) -> None:
    if not job.email or job.failure is None:
        return  # no valid address: the rejection is visible in the job record only
    ports.bus.publish(
        JobFailed(
            job_id=job.job_id,
            stage="ingest",
            cause=job.failure.cause,
            message=job.failure.message,
            advice=job.failure.advice,
        )
    )


def _owned(job_id: str, caller: str, ports: Ports) -> Job:
    job = ports.table.get(job_id)
    if job is None or job.owner != caller:
        raise NotFoundError(f"no job {job_id}")  # the same answer whether absent or someone else's
    return job


def current_stage(job: Job) -> str:
    for stage in STAGES:
        record = job.stages.get(stage)
        if record is None or record.status != "succeeded":
            return stage
    return "notify"


def eta_seconds(job: Job, now: datetime, advancing: bool = True) -> float | None:
    """Seconds until the job is done, from typical stage durations; None when nothing will run it
    (a final job, or a local job no runtime drives: stopped after a stage, or interrupted)."""
    if job.state in FINAL_STATES or not advancing:
        return None
    remaining = 0.0
    for stage in STAGES:
        record = job.stages.get(stage)
        images = job.photo_count + job.video_count * job.options.video_frame_cap
        typical = typical_stage_seconds(stage, job.options.preset, images)
        if record is None:
            remaining += typical
        elif record.status == "running":
            remaining += max(typical - (now - record.started_at).total_seconds(), 60.0)
    return round(remaining, 0)


def photo_summary(job: Job) -> dict[str, Any]:
    """What happened to the photos: files ingest left out, files the SfM stage skipped (unreadable,
    blank, too small...), photos the camera solve could not place (of `solved`: the photos and frames
    it had), separate groups (two captures in one folder), photos with masks, frames from videos."""
    sfm = job.stages["sfm"].metrics if "sfm" in job.stages else {}
    return {
        "count": job.photo_count,
        "video_count": job.video_count,
        "videos": list(sfm.get("videos", [])),
        "left_out": list(job.warnings),
        "skipped": list(sfm.get("photos_skipped", [])),
        "solved": sfm.get("images_in"),
        "unplaced": list(sfm.get("unplaced_photos", [])),
        "groups": list(sfm.get("photo_groups", [])),
        "with_masks": sfm.get("photos_with_masks"),
        "capture": capture_findings(sfm),
        "sfm_warnings": list(sfm.get("warnings", [])),
    }


def quality_summary(job: Job) -> dict[str, Any] | None:
    """The delivered model's quality assessment (shared/quality.py); None until training is done."""
    train = job.stages["train"].metrics if "train" in job.stages else {}
    if not train:
        return None
    return assess_quality(job.stages["sfm"].metrics if "sfm" in job.stages else {}, train).to_json()


def running_progress(job: Job, ports: Ports, pipeline: Pipeline) -> dict[str, Any]:
    """{"train": progress.json} while training runs: step, total, eta_s, PSNR (shared/stage.py).

    Read from the copy the training program keeps in the job's checkpoint folder, which SageMaker
    syncs to S3 while the job runs (its outputs arrive only when it ends). The SfM and compress
    processing jobs upload at their end: they show status and duration only. Empty otherwise.
    """
    record = job.stages.get(StageName.TRAIN)
    if record is None or record.status != "running":
        return {}
    uri = checkpoint_uri(pipeline.bucket, job.job_id) + PROGRESS_FILE
    try:
        body = json.loads(ports.store.get_bytes(uri))
    except (NotFoundError, ValueError):  # not synced yet, or caught mid-upload
        return {}
    except SpaceportError as exc:  # the job view stands without it
        logger.warning("training progress unreadable", extra={"uri": uri, "error": str(exc)})
        return {}
    return {StageName.TRAIN.value: body} if isinstance(body, dict) else {}


def job_view(
    job: Job, ports: Ports, pipeline: Pipeline, now: datetime | None = None, advancing: bool = True
) -> dict[str, Any]:
    """What the API and `spaceport status` show of a job. advancing: whether something moves the
    job on (always in the cloud; locally only while a runtime drives it): else no ETA."""
    now = now or datetime.now(UTC)
    stages = {
        name: {
            "status": record.status,
            "attempt": record.attempt,
            "instance_type": record.instance_type,
            "started_at": record.started_at.isoformat(),
            "ended_at": record.ended_at.isoformat() if record.ended_at else None,
            "duration_s": record.duration_s
            if record.duration_s is not None
            else round((now - record.started_at).total_seconds(), 1),
        }
        for name, record in job.stages.items()
    }
    links = (
        {name: ports.store.link(uri, pipeline.link_expiry_s) for name, uri in job.outputs.items()}
        if job.state is JobState.SUCCEEDED
        else {}
    )
    return {
        "job_id": job.job_id,
        "state": str(job.state),
        "current_stage": None if job.is_final else current_stage(job),
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "photo_count": job.photo_count,
        "photos": photo_summary(job),
        "quality": quality_summary(job),
        "options": job.options.model_dump(mode="json"),
        "stages": stages,
        "progress": running_progress(job, ports, pipeline),
        "eta_s": eta_seconds(job, now, advancing),
        "failure": job.failure.model_dump(mode="json") if job.failure else None,
        "links": links,
    }


def get_job_view(job_id: str, caller: str, ports: Ports, pipeline: Pipeline) -> dict[str, Any]:
    return job_view(_owned(job_id, caller, ports), ports, pipeline)


def list_jobs(caller: str, ports: Ports, pipeline: Pipeline) -> list[dict[str, Any]]:
    return [job_view(job, ports, pipeline) for job in ports.table.list_by_owner(caller)]


class JobAlreadyFinished(UserInputError):
    def __init__(self, job: Job) -> None:
        super().__init__(CauseCode.INVALID_REQUEST, f"job {job.job_id} already ended as {job.state}")


def cancel_job(job_id: str, caller: str, ports: Ports) -> Job:
    """Stop the job: the running stage's service stops its compute job; the user gets one email."""
    job = _owned(job_id, caller, ports)
    if job.state is JobState.CANCELLED:
        return job  # a repeated DELETE changes nothing
    if job.is_final:
        raise JobAlreadyFinished(job)
    stage = current_stage(job)
    failure = FailureInfo(
        stage="ingest",
        cause=CauseCode.CANCELLED,
        message=f"cancelled by its owner during {stage}",
        advice=advice_for(CauseCode.CANCELLED),
    )
    moved = ports.table.update(
        job_id,
        allowed_from=states_before(JobState.CANCELLED),
        state=JobState.CANCELLED,
        changes={"failure": failure.model_dump(mode="json")},
    )
    job = ports.table.get(job_id) or job
    if not moved and job.state is not JobState.CANCELLED:
        raise JobAlreadyFinished(job)
    if any(job.stages.get(s) and job.stages[s].status == "running" for s in RUNNING):
        ports.bus.publish(JobCancelRequested(job_id=job_id, requested_by=caller))
    ports.bus.publish(
        JobFailed(job_id=job_id, stage="ingest", cause=CauseCode.CANCELLED, message=failure.message, advice=failure.advice)
    )
    return job
