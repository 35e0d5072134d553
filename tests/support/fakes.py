"""In-memory fakes of the ports, recording what happened. Test code only."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.errors import NotFoundError, QuotaExceeded, TransientError
from shared.events import Event
from shared.jobs import Job, JobState
from shared.ports import Email, JobDescription, Pipeline, Ports, StageDefaults, StageRun, StoredObject
from shared.sagemaker_jobs import quota_name


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.content_types: dict[str, str] = {}
        self.writes: list[str] = []

    def get_bytes(self, uri: str) -> bytes:
        if uri not in self.objects:
            raise NotFoundError(uri)
        return self.objects[uri]

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        return self.get_bytes(uri)[start : start + length]

    def put_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.objects[uri] = bytes(data)
        self.content_types[uri] = content_type
        self.writes.append(uri)

    def list(self, prefix_uri: str) -> list[StoredObject]:
        return [
            StoredObject(uri, len(data), hashlib.md5(data).hexdigest())  # noqa: S324 - S3's ETag
            for uri, data in sorted(self.objects.items())
            if uri.startswith(prefix_uri)
        ]

    def head(self, uri: str) -> StoredObject | None:
        if uri not in self.objects:
            return None
        return StoredObject(uri, len(self.objects[uri]), hashlib.md5(self.objects[uri]).hexdigest())  # noqa: S324

    def link(self, uri: str, expires_s: int) -> str:
        return f"https://links.test/{uri.removeprefix('s3://')}?expires={expires_s}"


class RecordingBus:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


class RecordingLauncher:
    """Records launches; `descriptions` holds what describe() answers (a test plays SageMaker)."""

    def __init__(self) -> None:
        self.runs: dict[str, StageRun] = {}
        self.launch_calls: list[str] = []
        self.stopped: list[str] = []
        self.described: list[str] = []
        self.descriptions: dict[str, JobDescription] = {}
        self.fail_next: int = 0  # raise TransientError this many times
        self.quota_refuses: bool = False  # raise QuotaExceeded (ResourceLimitExceeded) on launch

    def launch(self, run: StageRun) -> bool:
        self.launch_calls.append(run.run_name)
        if self.fail_next:
            self.fail_next -= 1
            raise TransientError("ThrottlingException")
        if self.quota_refuses:
            raise QuotaExceeded(quota_name(run), run.instance_type, "The account-level service limit is 0 Instances")
        if run.run_name in self.runs:
            return False
        self.runs[run.run_name] = run
        return True

    def stop(self, stage: str, run_name: str) -> None:
        self.stopped.append(run_name)

    def describe(self, stage: str, run_name: str) -> JobDescription | None:
        self.described.append(run_name)
        return self.descriptions.get(run_name)


class MemoryJobTable:
    """Same conditional semantics as DynamoJobTable, on JSON copies (as a database would)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def create(self, job: Job) -> bool:
        if job.job_id in self.items:
            return False
        self.items[job.job_id] = json.loads(job.model_dump_json())
        return True

    def get(self, job_id: str) -> Job | None:
        item = self.items.get(job_id)
        return None if item is None else Job.model_validate(item)

    def update(
        self,
        job_id: str,
        *,
        allowed_from: frozenset[JobState],
        state: JobState | None = None,
        changes: dict[str, Any] | None = None,
    ) -> bool:
        item = self.items.get(job_id)
        if item is None or JobState(item["state"]) not in allowed_from:
            return False
        if state is not None:
            item["state"] = str(state)
        for path, value in (changes or {}).items():
            target = item
            *parents, last = path.split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[last] = json.loads(json.dumps(value, default=str))
        return True

    def list_by_owner(self, owner: str, limit: int = 50) -> list[Job]:
        jobs = [Job.model_validate(i) for i in self.items.values() if i["owner"] == owner]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]

    def list_in_states(self, states: frozenset[JobState], limit: int = 500) -> list[Job]:
        wanted = {str(state) for state in states}
        return [Job.model_validate(i) for i in self.items.values() if i["state"] in wanted][:limit]

    def claim_notification(self, job_id: str, token: str, now: datetime, lease_s: int) -> bool:
        item = self.items.get(job_id)
        if item is None or item.get("notified_at"):
            return False
        claim = item.get("_claim")
        if claim and claim["token"] != token and claim["expires"] >= now.timestamp():
            return False
        item["_claim"] = {"token": token, "expires": now.timestamp() + lease_s}
        return True

    def finish_notification(self, job_id: str, token: str, sent_at: datetime) -> None:
        item = self.items[job_id]
        if item.get("_claim", {}).get("token") == token:
            item["notified_at"] = sent_at.isoformat()
            item.pop("_claim")

    def release_notification(self, job_id: str, token: str) -> None:
        item = self.items[job_id]
        if item.get("_claim", {}).get("token") == token:
            item.pop("_claim")


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.fail_next: int = 0

    def send(self, email: Email) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientError("ses throttled")
        self.sent.append(email)
        return f"msg-{len(self.sent)}"


@dataclass
class FakeWorld:
    store: MemoryStore = field(default_factory=MemoryStore)
    bus: RecordingBus = field(default_factory=RecordingBus)
    table: MemoryJobTable = field(default_factory=MemoryJobTable)
    launcher: RecordingLauncher = field(default_factory=RecordingLauncher)
    mailer: RecordingMailer = field(default_factory=RecordingMailer)

    @property
    def ports(self) -> Ports:
        return Ports(self.store, self.bus, self.table, self.launcher, self.mailer)


BUCKET = "spaceport-test"


def test_pipeline(**overrides: Any) -> Pipeline:
    stages = {
        "sfm": StageDefaults("ml.c6i.2xlarge", 7200),
        "train": StageDefaults("ml.g4dn.xlarge", 21600, spot=True),
        "compress": StageDefaults("ml.c6i.4xlarge", 3600),
    }
    return Pipeline(bucket=BUCKET, stages=stages, **overrides)


test_pipeline.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
