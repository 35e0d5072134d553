"""Event contracts, version 1. Every event is a past-tense fact published on our bus.

EventBridge envelope: `source` = "spaceport", `detail-type` = the class name, `detail` = the
model as JSON. Events carry URIs and small figures, never data. Within schema_version 1 only
additive changes are allowed (consumers ignore unknown fields); a breaking change is a new model.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.causes import CauseCode
from shared.options import JobOptions

if TYPE_CHECKING:
    from shared.jobs import Job

EVENT_SOURCE = "spaceport"
SAGEMAKER_SOURCE = "aws.sagemaker"
PROCESSING_STATE_CHANGE = "SageMaker Processing Job State Change"
TRAINING_STATE_CHANGE = "SageMaker Training Job State Change"

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def check_email(value: str) -> str:
    """A plain address: no display name, no whitespace, no header-injection characters."""
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError(f"not a valid email address: {value[:80]!r}")
    return value


class Event(BaseModel):
    # defer_build: each Lambda builds the schemas of only the events it handles, on first use.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    schema_version: Literal[1] = 1
    job_id: str = Field(pattern=r"^[a-z0-9]{20}$")
    occurred_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def detail_type(cls) -> str:
        return cls.__name__


class JobSubmitted(Event):
    owner: str
    email: str
    inbox_uri: str
    photo_count: int = Field(ge=0)  # photos; a job has at least one photo or video
    photo_bytes: int = Field(ge=0)  # bytes of its photos and videos
    options: JobOptions = Field(default_factory=JobOptions)
    video_count: int = Field(default=0, ge=0)

    _email = field_validator("email")(check_email)

    @classmethod
    def of(cls, job: Job) -> JobSubmitted:
        return cls(
            job_id=job.job_id,
            owner=job.owner,
            email=job.email,
            inbox_uri=job.inbox_uri,
            photo_count=job.photo_count,
            photo_bytes=job.photo_bytes,
            options=job.options,
            video_count=job.video_count,
        )


class StageStarted(Event):
    """A stage's compute job was launched (feeds the status API)."""

    stage: Literal["sfm", "train", "compress"]
    run_name: str
    instance_type: str
    attempt: int = 1


class SfmCompleted(Event):
    sfm_uri: str  # folder with images/, sparse/0/, metrics.json
    images_total: int
    images_registered: int
    points: int
    reprojection_error_px: float
    matcher: str
    georeferenced: bool = False
    duration_s: float


class TrainingCompleted(Event):
    train_uri: str  # folder with model.ply, previews/, metrics.json
    model_uri: str
    gaussians: int
    psnr: float | None = None
    ssim: float | None = None
    lpips: float | None = None
    duration_s: float


class CompressionCompleted(Event):
    compress_uri: str  # folder with model.sog, sog/, metrics.json
    sog_uri: str
    sog_bytes: int
    ply_bytes: int
    duration_s: float


class JobFailed(Event):
    stage: Literal["ingest", "sfm", "train", "compress", "notify"]
    cause: CauseCode
    message: str
    advice: str


class JobCancelRequested(Event):
    """The owner asked to cancel; the running stage's service stops its compute job."""

    requested_by: str


class JobNotified(Event):
    """The outcome email went out (final fact of a job)."""

    outcome: Literal["succeeded", "failed", "cancelled"]
    message_id: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        JobSubmitted,
        StageStarted,
        SfmCompleted,
        TrainingCompleted,
        CompressionCompleted,
        JobFailed,
        JobCancelRequested,
        JobNotified,
    )
}


def parse_event(detail_type: str, detail: dict[str, Any]) -> Event:
    try:
        model = EVENT_TYPES[detail_type]
    except KeyError:
        raise ValueError(f"unknown event type {detail_type!r}") from None
    return model.model_validate(detail)


class SageMakerJobStateChange(BaseModel):
    """The parts of an `aws.sagemaker` job-state-change detail (or a Describe*Job answer, which
    carries the same fields) that we read."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    job_name: str
    status: str  # InProgress | Completed | Failed | Stopping | Stopped
    # Training only: why a Stopped job stopped (MaxRuntimeExceeded, MaxWaitTimeExceeded, Stopped).
    secondary_status: str | None = None
    failure_reason: str | None = None
    exit_message: str | None = None  # processing only: the first 1 KiB of /opt/ml/output/message
    start_time: datetime | None = None
    end_time: datetime | None = None
    max_runtime_s: int | None = None  # StoppingCondition.MaxRuntimeInSeconds, when the detail has it
    spot: bool = False  # EnableManagedSpotTraining

    @classmethod
    def from_detail(cls, detail_type: str, detail: dict[str, Any]) -> SageMakerJobStateChange:
        stopping = detail.get("StoppingCondition") or {}
        limit = stopping.get("MaxRuntimeInSeconds")
        if detail_type == TRAINING_STATE_CHANGE:
            return cls(
                job_name=detail["TrainingJobName"],
                status=detail["TrainingJobStatus"],
                secondary_status=detail.get("SecondaryStatus"),
                failure_reason=detail.get("FailureReason"),
                start_time=_epoch_ms(detail.get("TrainingStartTime")),
                end_time=_epoch_ms(detail.get("TrainingEndTime")),
                max_runtime_s=None if limit is None else int(limit),
                spot=bool(detail.get("EnableManagedSpotTraining", False)),
            )
        if detail_type == PROCESSING_STATE_CHANGE:
            return cls(
                job_name=detail["ProcessingJobName"],
                status=detail["ProcessingJobStatus"],
                failure_reason=detail.get("FailureReason"),
                exit_message=detail.get("ExitMessage"),
                start_time=_epoch_ms(detail.get("ProcessingStartTime")),
                end_time=_epoch_ms(detail.get("ProcessingEndTime")),
                max_runtime_s=None if limit is None else int(limit),
            )
        raise ValueError(f"not a SageMaker job state change: {detail_type!r}")


def _epoch_ms(value: Any) -> datetime | None:
    """Epoch milliseconds (a number, or digits in a string as AWS's own examples show), an ISO
    8601 text, or a datetime (a Describe*Job answer) -> an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000.0, UTC)
    text = str(value).strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return datetime.fromtimestamp(float(text) / 1000.0, UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
