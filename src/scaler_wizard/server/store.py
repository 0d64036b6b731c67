"""Job state and idempotent results in SQLite (stdlib), with numbered, named migrations.

One short-lived connection per call: the runner thread and request handlers never share one,
and WAL mode lets readers (event streams, job lists) run while the runner writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

JobStatus = Literal[
    "queued",
    "running",
    "awaiting_approval",
    "paused",
    "completed",
    "failed",
    "aborted",
    "rolled_back",
    "lost",
]
StopRequest = Literal["pause", "abort"]
# A process exists (or should) for these; the others are at rest.
LIVE: tuple[JobStatus, ...] = ("running", "awaiting_approval")

# (name, SQL) in order; PRAGMA user_version counts those applied. Append, never edit.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "create jobs and idempotency",
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            status TEXT NOT NULL,
            recipe_name TEXT NOT NULL,
            recipe_path TEXT NOT NULL,
            run_id TEXT UNIQUE,
            resume INTEGER NOT NULL DEFAULT 0,
            pid INTEGER,
            pid_started INTEGER,
            exit_code INTEGER,
            stop_requested TEXT,
            reason TEXT,
            started TEXT,
            finished TEXT
        );
        CREATE INDEX jobs_status ON jobs (status, created);
        CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            status_code INTEGER NOT NULL,
            body TEXT NOT NULL,
            created TEXT NOT NULL
        );
        """,
    ),
]


@dataclass(frozen=True)
class JobRecord:
    id: str
    created: str
    updated: str
    status: JobStatus
    recipe_name: str
    recipe_path: str
    run_id: str | None = None
    resume: bool = False
    pid: int | None = None
    pid_started: int | None = None  # the process's start time, so a reused pid is not mistaken
    exit_code: int | None = None
    stop_requested: StopRequest | None = None
    reason: str | None = None
    started: str | None = None
    finished: str | None = None


COLUMNS = tuple(f.name for f in fields(JobRecord))


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    status_code: int
    body: str


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            for index in range(version, len(MIGRATIONS)):
                script = MIGRATIONS[index][1]
                db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={index + 1};\nCOMMIT;")
            return max(version, len(MIGRATIONS))

    def add_job(self, job_id: str, recipe_name: str, recipe_path: str) -> JobRecord:
        stamp = now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, created, updated, status, recipe_name, recipe_path)"
                " VALUES (?, ?, ?, 'queued', ?, ?)",
                (job_id, stamp, stamp, recipe_name, recipe_path),
            )
        return self._require(job_id)

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def list_jobs(self, *statuses: JobStatus) -> list[JobRecord]:
        """Newest first; only the given statuses when some are given."""
        query, args = "SELECT * FROM jobs", list(statuses)
        if statuses:
            query += f" WHERE status IN ({', '.join('?' for _ in statuses)})"
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created DESC, rowid DESC", args).fetchall()
        return [_record(row) for row in rows]

    def claimed_run_ids(self) -> set[str]:
        with self._connect() as db:
            rows = db.execute("SELECT run_id FROM jobs WHERE run_id IS NOT NULL").fetchall()
        return {str(row[0]) for row in rows}

    def next_queued(self) -> JobRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE status = 'queued' ORDER BY created, rowid LIMIT 1"
            ).fetchone()
        return _record(row) if row else None

    def update_job(
        self, job_id: str, *, when: tuple[JobStatus, ...] = (), **changes: Any
    ) -> JobRecord | None:
        """Set columns; with `when`, only if the job is in one of those statuses (else None).

        The condition makes each transition atomic: a job cancelled while queued is never
        also started, and a finished job is never overwritten by a late request.
        """
        unknown = set(changes) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown job columns: {sorted(unknown)}")
        changes["updated"] = now()
        assignments = ", ".join(f"{name} = ?" for name in changes)
        query, args = f"UPDATE jobs SET {assignments} WHERE id = ?", [*changes.values(), job_id]
        if when:
            query += f" AND status IN ({', '.join('?' for _ in when)})"
            args += list(when)
        with self._connect() as db:
            updated = db.execute(query, args).rowcount
        return self.get_job(job_id) if updated else None

    def stored_response(self, key: str) -> StoredResponse | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT fingerprint, status_code, body FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
        return StoredResponse(str(row[0]), int(row[1]), str(row[2])) if row else None

    def store_response(self, key: str, response: StoredResponse) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO idempotency (key, fingerprint, status_code, body, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, response.fingerprint, response.status_code, response.body, now()),
            )

    def _require(self, job_id: str) -> JobRecord:
        record = self.get_job(job_id)
        if record is None:
            raise KeyError(job_id)
        return record

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()


def _record(row: sqlite3.Row) -> JobRecord:
    data = {name: row[name] for name in COLUMNS}
    data["resume"] = bool(data["resume"])
    return JobRecord(**data)
