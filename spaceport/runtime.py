"""The local runtime: the same service logic as the cloud, driven by a worker loop on one machine.

Cloud                              Local
EventBridge rules -> SQS queues    SqliteEventBus: routes with shared.routing into SQLite queues
Lambda + BatchProcessor            `LocalRuntime.step`: receive, `shared.consumer.consume`, delete
SageMaker jobs + state events      SubprocessLauncher: subprocesses + the same state events
S3                                 FileObjectStore under the data dir (same keys)
DynamoDB                           SqliteJobTable (same conditional writes)
SES                                OutboxMailer (.eml files, SMTP when configured)

Everything durable lives in the data dir, so a killed runtime loses nothing: `spaceport resume`
starts a new one, which makes in-flight messages visible again and picks up the stage processes.
One runtime per data dir at a time (a lock file, which also names the job being driven).

One job per run: `drive(..., job_id=J)` delivers only J's messages and watches, restarts or starts
only J's stage processes; every other job stays queued, exactly as it was, until a runtime drives
it (`spaceport resume`). No stage process outlives the runtime: leaving `running()` - normally,
by an exception, Ctrl-C, SIGTERM or SIGHUP - ends the processes it started, and the kernel
SIGTERMs them if the runtime itself is killed (shared/adapters/local/launcher.py).
"""

from __future__ import annotations

import fcntl
import importlib
import json
import logging
import os
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.adapters.local import (
    Database,
    FileObjectStore,
    OutboxMailer,
    SmtpSettings,
    SqliteEventBus,
    SqliteJobTable,
    SubprocessLauncher,
    module_command,
)
from shared.adapters.local.launcher import StageCommand
from shared.consumer import consume
from shared.errors import ConfigurationError, SpaceportError
from shared.events import JobSubmitted
from shared.jobs import FINAL_STATES, Job, JobState
from shared.layout import INBOX, MANIFEST_NAME
from shared.ports import Envelope, Pipeline, Ports, StageDefaults

logger = logging.getLogger(__name__)

LOCAL_BUCKET = "spaceport"
SERVICES = ("ingest", "sfm", "train", "compress", "notify")
DB_NAME = "spaceport.db"
SOURCES_FILE = "sources.json"  # job id -> the folder `run` took the photos from (spaceport/api.py)
# What a runtime keeps in its data dir (globs): the bucket, the job table (and its WAL files), the
# stage runs, the outbox, demo renders, the lock, the photo folders of jobs.
DATA_DIR_ENTRIES = (LOCAL_BUCKET, f"{DB_NAME}*", "runs", "outbox", "demo", "runtime.lock", SOURCES_FILE)
DEFAULT_VIEW_PORT = 8765

Handle = Callable[[Envelope, Ports, Pipeline], None]


def default_data_dir() -> Path:
    """$SPACEPORT_DATA_DIR, else ~/.spaceport."""
    configured = os.environ.get("SPACEPORT_DATA_DIR", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".spaceport"


def smtp_from_env(env: dict[str, str] | None = None) -> SmtpSettings | None:
    """SPACEPORT_SMTP_HOST [, _PORT, _USER, _PASSWORD, _STARTTLS=true|false]; None when unset."""
    env = dict(os.environ if env is None else env)
    host = env.get("SPACEPORT_SMTP_HOST", "").strip()
    if not host:
        return None
    try:
        port = int(env.get("SPACEPORT_SMTP_PORT", "587"))
    except ValueError as exc:
        raise ConfigurationError("SPACEPORT_SMTP_PORT must be a number") from exc
    return SmtpSettings(
        host=host,
        port=port,
        username=env.get("SPACEPORT_SMTP_USER") or None,
        password=env.get("SPACEPORT_SMTP_PASSWORD") or None,
        starttls=env.get("SPACEPORT_SMTP_STARTTLS", "true").lower() != "false",
    )


def local_pipeline(view_port: int = DEFAULT_VIEW_PORT) -> Pipeline:
    """Deployment facts for one machine: generous time limits, no platform retries needed."""
    return Pipeline(
        bucket=LOCAL_BUCKET,
        stages={
            "sfm": StageDefaults(instance_type="local", max_runtime_s=6 * 3600),
            "train": StageDefaults(instance_type="local", max_runtime_s=48 * 3600),
            "compress": StageDefaults(instance_type="local", max_runtime_s=6 * 3600),
        },
        viewer_base_url=f"http://127.0.0.1:{view_port}/",
        max_receive_count=3,
        delivery="files",  # results are files on this machine: emails name paths, not links
    )


@dataclass(frozen=True)
class Hop:
    """One delivery: how long from publish to the handler call, and how long the handler took."""

    queue: str
    detail_type: str
    job_id: str
    receive_count: int
    overhead_s: float  # publish -> handler call
    handler_s: float
    ok: bool


class RuntimeBusy(SpaceportError):
    """Another runtime already drives this data dir."""


@dataclass
class LocalRuntime:
    data_dir: Path
    command: StageCommand = module_command
    smtp: SmtpSettings | None = None
    link_base_url: str | None = None
    view_port: int = DEFAULT_VIEW_PORT
    poll_interval_s: float = 0.2
    retry_delay_s: float = 2.0  # first retry after a failed delivery; doubles each time
    on_hop: Callable[[Hop], None] | None = None
    handlers: dict[str, Handle] = field(default_factory=dict)
    hops: list[Hop] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pipeline = local_pipeline(self.view_port)
        self.db = Database(self.data_dir / DB_NAME)
        self.bus = SqliteEventBus(self.db, max_receive_count=self.pipeline.max_receive_count)
        self.store = FileObjectStore(
            self.data_dir, link_base_url=self.link_base_url, on_created=self._object_created
        )
        self.table = SqliteJobTable(self.db)
        self.launcher = SubprocessLauncher(
            self.db, self.store, self.bus, self.data_dir / "runs", command=self.command
        )
        self.mailer = OutboxMailer(self.data_dir / "outbox", smtp=self.smtp)
        self.ports = Ports(
            store=self.store, bus=self.bus, table=self.table, launcher=self.launcher, mailer=self.mailer
        )
        self._lock_handle: Any = None
        self._driving: str | None = None

    # --- paths --------------------------------------------------------------------------

    @property
    def bucket_dir(self) -> Path:
        return self.data_dir / LOCAL_BUCKET

    def inbox_dir(self, name: str) -> Path:
        return self.bucket_dir / INBOX.rstrip("/") / name

    def job_dir(self, job_id: str) -> Path:
        return self.bucket_dir / "jobs" / job_id

    # --- one runtime per data dir -------------------------------------------------------

    @contextmanager
    def running(self) -> Iterator[LocalRuntime]:
        """Hold the data dir's runtime lock; a new runtime takes over what the last one left.
        On the way out (however it happens) the stage processes this runtime started end."""
        handle = (self.data_dir / "runtime.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RuntimeBusy(f"another spaceport runtime is using {self.data_dir}") from None
        self._lock_handle = handle
        self._mark_driving(None)
        previous = _signals_interrupt()
        try:
            self.bus.release_in_flight()  # whoever received them is gone
            yield self
        finally:
            try:
                self.launcher.interrupt()  # nothing of ours outlives the runtime
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
                self._driving = None
                handle.truncate(0)
                self._lock_handle = None
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()

    def _mark_driving(self, job_id: str | None) -> None:
        """Record in the lock file which job this runtime drives (read by `is_driven`)."""
        self._driving = job_id
        if self._lock_handle is not None:
            self._lock_handle.seek(0)
            self._lock_handle.truncate(0)
            self._lock_handle.write(json.dumps({"pid": os.getpid(), "job_id": job_id}))
            self._lock_handle.flush()

    def is_driven(self, job_id: str | None = None) -> bool:
        """Whether some runtime (this process or another) holds the data dir's lock right now;
        with `job_id`, whether that runtime is driving this very job."""
        if self._lock_handle is not None:
            return job_id is None or self._driving == job_id
        lock = self.data_dir / "runtime.lock"
        with lock.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = True
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
                held = False
        if not held or job_id is None:
            return held
        try:
            return json.loads(lock.read_text() or "{}").get("job_id") == job_id
        except ValueError:
            return False

    # --- the worker loop ----------------------------------------------------------------

    def handler(self, service: str) -> Handle:
        if service not in self.handlers:
            try:
                module = importlib.import_module(f"services.{service}.logic")
            except ModuleNotFoundError as exc:
                raise ConfigurationError(f"service {service} is not installed: {exc}") from exc
            self.handlers[service] = module.handle
        return self.handlers[service]

    def step(self, until: Callable[[], bool] | None = None, job_id: str | None = None) -> int:
        """Watch the stage processes, then deliver what is visible in every queue, one message at
        a time so that `until()` is checked between deliveries (and nothing is left received but
        unhandled when it says stop). With `job_id`, only that job's processes and messages.
        Returns the number of deliveries."""
        self.launcher.poll(job_id)
        delivered = 0
        for service in SERVICES:
            while messages := self.bus.receive(service, max_messages=1, job_id=job_id):
                delivered += 1
                self._deliver(service, messages[0])
                if until is not None and until():
                    return delivered
        return delivered

    def _deliver(self, service: str, message: Any) -> None:
        called = time.time()
        ok = True
        try:
            consume(service, self.handler(service), message.envelope, self.ports, self.pipeline)
        except Exception as exc:  # noqa: BLE001 - SQS semantics: a failed message comes back later
            ok = False
            delay = self.retry_delay_s * 2 ** (message.envelope.receive_count - 1)
            self.bus.retry_later(
                message.receipt, delay, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            )
        else:
            self.bus.delete(message.receipt)
        hop = Hop(
            queue=service,
            detail_type=message.envelope.detail_type,
            job_id=message.job_id,
            receive_count=message.envelope.receive_count,
            overhead_s=max(0.0, called - message.published_at),
            handler_s=time.time() - called,
            ok=ok,
        )
        self.hops.append(hop)
        if self.on_hop is not None:
            self.on_hop(hop)

    def drive(
        self,
        done: Callable[[], bool],
        on_tick: Callable[[], None] | None = None,
        timeout_s: float | None = None,
        job_id: str | None = None,
    ) -> bool:
        """Run the loop until `done()`; False on timeout. With `job_id`, drive that job only."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self._mark_driving(job_id)
        try:
            while True:
                delivered = self.step(until=done, job_id=job_id)
                if on_tick is not None:
                    on_tick()
                if done():
                    return True
                if deadline is not None and time.monotonic() > deadline:
                    return False
                if not delivered:
                    time.sleep(self.poll_interval_s)
        finally:
            self._mark_driving(None)

    # --- job-level helpers --------------------------------------------------------------

    def settled(self, job_id: str) -> bool:
        """Final, and nothing left to deliver or run for it (the email went out or dead-lettered)."""
        job = self.table.get(job_id)
        if job is None or job.state not in FINAL_STATES:
            return False
        return self.bus.pending(job_id) == 0 and not self.launcher.active(job_id)

    def stuck(self, job_id: str) -> bool:
        """Not final, but no message and no process can move it."""
        job = self.table.get(job_id)
        if job is None or job.state in FINAL_STATES:
            return False
        return self.bus.pending(job_id) == 0 and not self.launcher.active(job_id)

    def revive(self, job: Job) -> bool:
        """Re-publish what a crash between a job write and its event may have lost (the services
        are idempotent, so a duplicate is harmless). True if something was published."""
        if job.state is JobState.SUBMITTED and self.stuck(job.job_id):
            self.bus.publish(JobSubmitted.of(job))
            return True
        return False

    def _object_created(self, bucket: str, key: str, size: int, etag: str) -> None:
        """S3 -> EventBridge "Object Created", for the inbox only (the manifest route). The
        sequencer orders writes of one key, as S3's does: a re-upload is a new event."""
        if not key.startswith(INBOX) or not key.endswith(MANIFEST_NAME):
            return
        self.bus.publish_raw(
            "aws.s3",
            "Object Created",
            {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {"key": key, "size": size, "etag": etag, "sequencer": f"{time.time_ns():016X}"},
                "requester": "local",
                "reason": "PutObject",
            },
        )


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _signals_interrupt() -> dict[int, Any]:
    """SIGTERM and SIGHUP (the terminal closed) end the runtime like Ctrl-C; returns the previous
    handlers (none outside the main thread, where no handler can be set)."""
    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[signum] = signal.signal(signum, _raise_interrupt)
        except ValueError:
            break
    return previous
