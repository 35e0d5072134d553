"""A durable local event bus with SQS-like queues, in SQLite.

`publish` routes an event with `shared.routing.consumers_of` into one queue per consumer, exactly
as the EventBridge rules route into SQS in the cloud. Queue semantics follow SQS standard queues:

- at-least-once: a received message stays in the queue, invisible for the visibility timeout,
  until it is deleted with its receipt; if it is not deleted it becomes visible again;
- every receive counts a delivery (`receive_count`, the Envelope's `receive_count`);
- redrive: a message already delivered `max_receive_count` times is moved to the dead-letter
  table instead of being delivered again;
- a failed delivery can be made visible sooner (`retry_later`, SQS ChangeMessageVisibility).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.adapters.local.db import Database
from shared.events import EVENT_SOURCE, Event
from shared.layout import parse_sagemaker_job_name
from shared.ports import Envelope
from shared.routing import JOB_NAME_FIELDS, consumers_of

Clock = Callable[[], float]


@dataclass(frozen=True)
class Received:
    """One delivery of a message: the envelope a consumer handles plus what is needed to ack it."""

    queue: str
    envelope: Envelope
    receipt: str
    published_at: float  # epoch seconds (for the hop-overhead measurement)
    job_id: str


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    event_id: str
    source: str
    detail_type: str
    detail: dict[str, Any]
    job_id: str
    receive_count: int
    dead_at: float
    last_error: str


def job_id_of(detail_type: str, detail: dict[str, Any]) -> str:
    """The job an event is about, for listing and cleanup (never used for routing)."""
    if isinstance(detail.get("job_id"), str):
        return detail["job_id"]
    field = JOB_NAME_FIELDS.get(detail_type)
    if field:
        parsed = parse_sagemaker_job_name(str(detail.get(field, "")))
        if parsed:
            return parsed[1]
    return ""


class SqliteEventBus:
    """Implements the EventBus port and the consumer side of the local queues."""

    def __init__(
        self,
        db: Database,
        *,
        max_receive_count: int = 3,
        visibility_timeout_s: float = 300.0,
        clock: Clock = time.time,
    ) -> None:
        self._db = db
        self.max_receive_count = max_receive_count
        self.visibility_timeout_s = visibility_timeout_s
        self._clock = clock

    # --- producer side -------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        self.publish_raw(EVENT_SOURCE, event.detail_type(), event.model_dump(mode="json"))

    def publish_raw(
        self, source: str, detail_type: str, detail: dict[str, Any], event_id: str | None = None
    ) -> list[str]:
        """Route one envelope (ours, `aws.sagemaker` or `aws.s3` shaped); returns the consumers."""
        consumers = consumers_of(source, detail_type, detail)
        event_id = event_id or str(uuid.uuid4())
        now = self._clock()
        job_id = job_id_of(detail_type, detail)
        body = json.dumps(detail, separators=(",", ":"), default=str)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO events (event_id, source, detail_type, job_id, published_at, consumers)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (event_id, source, detail_type, job_id, now, ",".join(consumers)),
            )
            for queue in consumers:
                conn.execute(
                    "INSERT INTO messages (queue, event_id, source, detail_type, detail, job_id,"
                    " published_at, visible_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (queue, event_id, source, detail_type, body, job_id, now, now),
                )
        return list(consumers)

    # --- consumer side -------------------------------------------------------------------

    def receive(self, queue: str, max_messages: int = 10, job_id: str | None = None) -> list[Received]:
        """Visible messages of `queue` (only those about `job_id` when given: a runtime that
        drives one job leaves the others' messages queued)."""
        now = self._clock()
        received: list[Received] = []
        query = "SELECT * FROM messages WHERE queue = ? AND visible_at <= ?"
        values: tuple[Any, ...] = (queue, now)
        if job_id is not None:
            query += " AND job_id = ?"
            values = (*values, job_id)
        with self._db.transaction() as conn:
            rows = conn.execute(query + " ORDER BY id", values).fetchall()
            for row in rows:
                if len(received) >= max_messages:
                    break
                if row["receive_count"] >= self.max_receive_count:
                    self._to_dead_letters(conn, row, now)
                    continue
                receipt = secrets.token_hex(12)
                count = row["receive_count"] + 1
                conn.execute(
                    "UPDATE messages SET receive_count = ?, visible_at = ?, receipt = ? WHERE id = ?",
                    (count, now + self.visibility_timeout_s, receipt, row["id"]),
                )
                envelope = Envelope(
                    source=row["source"],
                    detail_type=row["detail_type"],
                    detail=json.loads(row["detail"]),
                    event_id=row["event_id"],
                    receive_count=count,
                )
                received.append(Received(queue, envelope, receipt, row["published_at"], row["job_id"]))
        return received

    def delete(self, receipt: str) -> bool:
        """Acknowledge a delivery; False if the receipt is stale (the message was redelivered)."""
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM messages WHERE receipt = ?", (receipt,)).rowcount > 0

    def retry_later(self, receipt: str, delay_s: float, error: str = "") -> bool:
        """Make a failed delivery visible again after `delay_s` (SQS ChangeMessageVisibility)."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE messages SET visible_at = ?, last_error = ? WHERE receipt = ?",
                (self._clock() + delay_s, error[:2000], receipt),
            )
            return cursor.rowcount > 0

    def release_in_flight(self) -> int:
        """Make every invisible message visible now: used when a new runtime starts, as the worker
        that received them is gone (one runtime per data dir, held by a lock)."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE messages SET visible_at = ? WHERE visible_at > ? AND receive_count > 0",
                (self._clock(), self._clock()),
            )
            return cursor.rowcount

    def next_visible_at(self, queues: list[str] | None = None) -> float | None:
        with self._db.connect() as conn:
            if queues:
                marks = ",".join("?" for _ in queues)
                row = conn.execute(
                    f"SELECT MIN(visible_at) FROM messages WHERE queue IN ({marks})", queues
                ).fetchone()
            else:
                row = conn.execute("SELECT MIN(visible_at) FROM messages").fetchone()
        return row[0]

    def pending(self, job_id: str | None = None) -> int:
        """Messages not yet deleted (visible or in flight), optionally for one job."""
        with self._db.connect() as conn:
            if job_id is None:
                return conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            return conn.execute("SELECT COUNT(*) FROM messages WHERE job_id = ?", (job_id,)).fetchone()[0]

    def dead_letters(self, job_id: str | None = None) -> list[DeadLetter]:
        with self._db.connect() as conn:
            if job_id is None:
                rows = conn.execute("SELECT * FROM dead_letters ORDER BY id").fetchall()
            else:
                rows = conn.execute(
                    "SELECT * FROM dead_letters WHERE job_id = ? ORDER BY id", (job_id,)
                ).fetchall()
        return [
            DeadLetter(
                queue=row["queue"],
                event_id=row["event_id"],
                source=row["source"],
                detail_type=row["detail_type"],
                detail=json.loads(row["detail"]),
                job_id=row["job_id"],
                receive_count=row["receive_count"],
                dead_at=row["dead_at"],
                last_error=row["last_error"],
            )
            for row in rows
        ]

    def events(self, job_id: str) -> list[dict[str, Any]]:
        """The publish log of one job (what happened, when, who heard it)."""
        with self._db.connect() as conn:
            rows = conn.execute(
                "SELECT event_id, source, detail_type, published_at, consumers FROM events WHERE job_id = ? ORDER BY id",
                (job_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    def _to_dead_letters(self, conn: Any, row: Any, now: float) -> None:
        conn.execute(
            "INSERT INTO dead_letters (id, queue, event_id, source, detail_type, detail, job_id, published_at,"
            " receive_count, dead_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row["id"],
                row["queue"],
                row["event_id"],
                row["source"],
                row["detail_type"],
                row["detail"],
                row["job_id"],
                row["published_at"],
                row["receive_count"],
                now,
                row["last_error"],
            ),
        )
        conn.execute("DELETE FROM messages WHERE id = ?", (row["id"],))
