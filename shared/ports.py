"""Small interfaces for all I/O. Logic receives these; AWS and local adapters implement them;
tests use in-memory fakes that record what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from shared.events import Event
from shared.jobs import Job, JobState


@dataclass(frozen=True)
class StoredObject:
    uri: str
    size: int
    etag: str = ""


class ObjectStore(Protocol):
    def get_bytes(self, uri: str) -> bytes: ...  # NotFoundError if absent

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def list(self, prefix_uri: str) -> list[StoredObject]: ...

    def head(self, uri: str) -> StoredObject | None: ...

    def read_range(self, uri: str, start: int, length: int) -> bytes: ...

    def link(self, uri: str, expires_s: int) -> str: ...  # a URL a person can open


class EventBus(Protocol):
    def publish(self, event: Event) -> None: ...


@dataclass(frozen=True)
class StageRun:
    """Everything needed to start one stage's compute job, on SageMaker or locally."""

    stage: str  # sfm | train | compress
    run_name: str  # deterministic: spaceport-<stage>-<job_id>-a<attempt>
    job_id: str
    input_uri: str  # folder the program reads
    output_uri: str  # folder the program writes (jobs/<id>/<stage>/)
    config: dict[str, Any]  # the stage Config as JSON
    config_uri: str  # where the config is stored as config.json (read by processing jobs)
    instance_type: str
    max_runtime_s: int
    spot: bool = False
    checkpoint_uri: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobDescription:
    """What SageMaker says about one job now, shaped as the detail of its state-change event
    (Describe*Job answers carry the same fields; times as epoch milliseconds)."""

    detail_type: str  # "SageMaker Training Job State Change" | "SageMaker Processing Job State Change"
    detail: dict[str, Any]


class StageLauncher(Protocol):
    def launch(self, run: StageRun) -> bool: ...  # True if created now, False if it already existed
    """Raises QuotaExceeded when the account's quota for the instance type refuses the job."""

    def stop(self, stage: str, run_name: str) -> None: ...  # idempotent; a finished job is left alone

    def describe(self, stage: str, run_name: str) -> JobDescription | None: ...  # None: no such job


class JobTable(Protocol):
    def create(self, job: Job) -> bool: ...  # False if a job with this id exists

    def get(self, job_id: str) -> Job | None: ...

    def update(
        self,
        job_id: str,
        *,
        allowed_from: frozenset[JobState],
        state: JobState | None = None,
        changes: dict[str, Any] | None = None,
    ) -> bool: ...
    """Set `state` and top-level or `stages.<name>` fields iff the job's state is in `allowed_from`."""

    def list_by_owner(self, owner: str, limit: int = 50) -> list[Job]: ...

    def list_in_states(self, states: frozenset[JobState], limit: int = 500) -> list[Job]: ...
    """Jobs whose state is one of `states` (the reconciler's view of running jobs)."""

    def claim_notification(self, job_id: str, token: str, now: datetime, lease_s: int) -> bool: ...
    """Take the right to send the outcome email: no email sent yet and no unexpired claim."""

    def finish_notification(self, job_id: str, token: str, sent_at: datetime) -> None: ...

    def release_notification(self, job_id: str, token: str) -> None: ...


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML body shows with `<img src="cid:{content_id}">` (MIME multipart/related)."""

    content_id: str
    data: bytes
    subtype: str = "jpeg"  # image/<subtype>
    filename: str = "preview.jpg"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    # Images carried in the message itself (local mail); the cloud links to them instead.
    inline_images: tuple[InlineImage, ...] = ()


class Mailer(Protocol):
    def send(self, email: Email) -> str: ...  # returns the message id


@dataclass(frozen=True)
class Envelope:
    """One routed event as a consumer receives it (from SQS in the cloud, a local queue locally)."""

    source: str  # "spaceport" | "aws.sagemaker" | "aws.s3"
    detail_type: str
    detail: dict[str, Any]
    event_id: str = ""
    receive_count: int = 1  # deliveries so far, counting this one


@dataclass(frozen=True)
class StageDefaults:
    instance_type: str
    max_runtime_s: int
    spot: bool = False
    max_attempts: int = 2  # launches per stage when the platform (not the input) failed


@dataclass(frozen=True)
class Pipeline:
    """What the service logic needs to know about the deployment (no environment reads in logic)."""

    bucket: str
    stages: dict[str, StageDefaults]
    link_expiry_s: int = 7 * 24 * 3600
    viewer_base_url: str = "https://superspl.at/editor"
    max_receive_count: int = 3  # SQS redrive threshold: the last delivery marks the job failed
    # How people get the results: "links" (cloud: expiring links, a hosted viewer) or "files"
    # (local: paths on this machine, previews carried in the email, the viewer is a command).
    delivery: Literal["links", "files"] = "links"
    # "files": the command that serves a job's viewer, with {job_id} (e.g. `spaceport view {job_id}`).
    viewer_command: str | None = None


@dataclass
class Ports:
    store: ObjectStore
    bus: EventBus
    table: JobTable
    launcher: StageLauncher
    mailer: Mailer
