"""The jobs table in SQLite, with the same conditional semantics as `DynamoJobTable`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.adapters.local.db import Database
from shared.jobs import Job, JobState


def _plain(value: Any) -> Any:
    """JSON-safe value, as DynamoDB stores it (models as their JSON, datetimes as ISO text)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class SqliteJobTable:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, job: Job) -> bool:
        body = job.model_dump(mode="json")
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO jobs (job_id, owner, created_at, state, body) VALUES (?, ?, ?, ?, ?)",
                (job.job_id, job.owner, body["created_at"], str(job.state), json.dumps(body)),
            )
            return cursor.rowcount > 0

    def get(self, job_id: str) -> Job | None:
        with self._db.connect() as conn:
            row = conn.execute("SELECT body FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else Job.model_validate_json(row["body"])

    def update(
        self,
        job_id: str,
        *,
        allowed_from: frozenset[JobState],
        state: JobState | None = None,
        changes: dict[str, Any] | None = None,
    ) -> bool:
        """Set `state` and top-level or `stages.<name>` fields iff the job's state is in `allowed_from`."""
        with self._db.transaction() as conn:
            row = conn.execute("SELECT state, body FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None or JobState(row["state"]) not in allowed_from:
                return False
            body = json.loads(row["body"])
            body["updated_at"] = datetime.now().astimezone().isoformat()
            if state is not None:
                body["state"] = str(state)
            for path, value in (changes or {}).items():
                _set_path(body, path, _plain(value))
            Job.model_validate(body)  # refuse a write that would make the record unreadable
            conn.execute(
                "UPDATE jobs SET state = ?, body = ? WHERE job_id = ?",
                (body["state"], json.dumps(body), job_id),
            )
        return True

    def list_by_owner(self, owner: str, limit: int = 50) -> list[Job]:
        with self._db.connect() as conn:
            rows = conn.execute(
                "SELECT body FROM jobs WHERE owner = ? ORDER BY created_at DESC LIMIT ?", (owner, limit)
            ).fetchall()
        return [Job.model_validate_json(row["body"]) for row in rows]

    def list_in_states(self, states: frozenset[JobState], limit: int = 500) -> list[Job]:
        wanted = sorted(str(state) for state in states)
        marks = ",".join("?" for _ in wanted)
        with self._db.connect() as conn:
            rows = conn.execute(
                f"SELECT body FROM jobs WHERE state IN ({marks}) ORDER BY created_at LIMIT ?", (*wanted, limit)
            ).fetchall()
        return [Job.model_validate_json(row["body"]) for row in rows]

    def list_all(self, limit: int = 50) -> list[Job]:
        """Newest first (local only: the CLI's `status` without a job id)."""
        with self._db.connect() as conn:
            rows = conn.execute("SELECT body FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
        return [Job.model_validate_json(row["body"]) for row in rows]

    def claim_notification(self, job_id: str, token: str, now: datetime, lease_s: int) -> bool:
        """Take the right to send the outcome email: no email sent yet and no unexpired claim."""
        stamp = int(now.timestamp())
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT body, notify_claim, notify_claim_expires FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
            if row is None or json.loads(row["body"]).get("notified_at") is not None:
                return False
            held = row["notify_claim"] is not None
            if held and row["notify_claim"] != token and row["notify_claim_expires"] >= stamp:
                return False
            conn.execute(
                "UPDATE jobs SET notify_claim = ?, notify_claim_expires = ? WHERE job_id = ?",
                (token, stamp + lease_s, job_id),
            )
        return True

    def finish_notification(self, job_id: str, token: str, sent_at: datetime) -> None:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT body, notify_claim FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None or row["notify_claim"] != token:
                return
            body = json.loads(row["body"])
            body["notified_at"] = sent_at.isoformat()
            conn.execute(
                "UPDATE jobs SET body = ?, notify_claim = NULL, notify_claim_expires = NULL WHERE job_id = ?",
                (json.dumps(body), job_id),
            )

    def release_notification(self, job_id: str, token: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET notify_claim = NULL, notify_claim_expires = NULL"
                " WHERE job_id = ? AND notify_claim = ?",
                (job_id, token),
            )


def _set_path(body: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    target = body
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            # DynamoDB refuses a nested SET under a missing map; a missing map here is a caller bug.
            raise KeyError(f"cannot set {path!r}: {part!r} is not a map in job record")
        target = child
    target[parts[-1]] = value
