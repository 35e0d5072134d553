"""One SQLite file under the data dir holds the local queues, dead letters, jobs and runs.

Every connection uses WAL (a `spaceport status` in another shell reads while the runtime writes),
synchronous=NORMAL and a busy timeout; writes that read first take the write lock up front (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    detail TEXT NOT NULL,
    job_id TEXT NOT NULL DEFAULT '',
    published_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, visible_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    detail TEXT NOT NULL,
    job_id TEXT NOT NULL DEFAULT '',
    published_at REAL NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    source TEXT NOT NULL,
    detail_type TEXT NOT NULL,
    job_id TEXT NOT NULL DEFAULT '',
    published_at REAL NOT NULL,
    consumers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    notify_claim TEXT,
    notify_claim_expires INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created_at);
CREATE TABLE IF NOT EXISTS runs (
    run_name TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    pid INTEGER,
    command TEXT NOT NULL,
    output_dir TEXT NOT NULL,
    log_path TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    exit_code INTEGER,
    starts INTEGER NOT NULL DEFAULT 1,
    max_runtime_s INTEGER NOT NULL DEFAULT 0,
    run_json TEXT NOT NULL DEFAULT '{}',
    stop_reason TEXT,
    stop_deadline REAL,
    detail TEXT
);
"""
# Columns added to a table after its first release: (table, column, type), added when missing.
ADDED_COLUMNS = (("runs", "stop_reason", "TEXT"), ("runs", "stop_deadline", "REAL"), ("runs", "detail", "TEXT"))


class Database:
    """A path plus short-lived connections (SQLite connections are not shared across threads)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            for table, column, kind in ADDED_COLUMNS:  # a data dir made by an older version
                if column not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        # WAL + NORMAL: a killed process loses nothing committed; only a power cut may drop the
        # last commits (then the at-least-once redelivery covers it). FULL would fsync every commit.
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first statement."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
