"""Server-Sent Events for a job: its run's `events.jsonl`, tailed.

Each run event is one SSE message whose `id:` is the event's `seq` (which only grows, across
resumes and rollbacks), so a reconnecting client that sends `Last-Event-ID` misses nothing and
sees nothing twice. The stream ends with an `end` message once the job's process has ended
(completed, failed, paused, aborted, ...) and the log is read to its last line; comment lines
keep idle connections open.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

from scaler_wizard.server.schemas import JobView
from scaler_wizard.server.settings import Settings
from scaler_wizard.server.store import Store

STREAMING = ("queued", "running", "awaiting_approval")
RETRY_MS = 2000


class EventLogTail:
    """Reads whole new lines of a growing file; a half-written last line waits for its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read_lines(self) -> list[str]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # rewritten (a resume drops a torn last line): read again
            self.offset = 0
        with self.path.open("rb") as file:
            file.seek(self.offset)
            chunk = file.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        return chunk[:end].decode("utf-8", errors="replace").splitlines()


def message(data: str, *, event: str | None = None, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    head += f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in data.splitlines()) + "\n"


async def job_events(
    settings: Settings, store: Store, job_id: str, after_seq: int | None
) -> AsyncIterator[str]:
    """The SSE text of one job's events with `seq` > `after_seq`, until the job has ended."""
    yield f"retry: {RETRY_MS}\n\n"
    tail: EventLogTail | None = None
    last = after_seq if after_seq is not None else -1
    quiet_since = time.monotonic()
    while True:
        job = store.get_job(job_id)
        if job is None:
            return
        if tail is None and job.run_id is not None:
            tail = EventLogTail(settings.runs_dir / job.run_id / "events.jsonl")
        # Read after looking at the job: when it has ended, every line is already written.
        for line in tail.read_lines() if tail else []:
            seq = _seq(line)
            if seq is None or seq <= last:
                continue
            last = seq
            quiet_since = time.monotonic()
            yield message(line, event_id=seq)
        if job.status not in STREAMING:
            yield message(JobView.of(job).model_dump_json(), event="end")
            return
        if time.monotonic() - quiet_since >= settings.heartbeat_s:
            quiet_since = time.monotonic()
            yield ": heartbeat\n\n"
        await asyncio.sleep(settings.poll_s)


def _seq(line: str) -> int | None:
    try:
        seq = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None
