"""The service's decisions as tables: how a job ended, which file names are safe, how the
job database migrates, and how a growing event log is read."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from service_helpers import Service, make_settings

from scaler_wizard.server.events_stream import EventLogTail, job_events
from scaler_wizard.server.lock import WorkspaceBusyError, WorkspaceLock
from scaler_wizard.server.outcome import Outcome, last_error, settle, settle_unwatched
from scaler_wizard.server.store import MIGRATIONS, Store
from scaler_wizard.server.uploads import safe_name

PAUSED = {"status": "paused", "paused_at_step": 7, "paused_because": "stop requested"}
FAILED = {"status": "failed", "failed_phase": "data", "error": "DataError: line 3: bad"}
DENIED = {"status": "aborted", "failed_phase": "gate", "error": "ApprovalDenied: not approved"}
KILLED = {"status": "running"}


# exit code, manifest, stop request, latest checkpoint -> job status, reason begins with
WATCHED = [
    (0, {"status": "completed"}, None, "step-000002", "completed", ""),
    (3, PAUSED, "pause", "step-000007", "paused", "paused at step 7: stop requested"),
    (3, PAUSED, "abort", "step-000007", "aborted", "aborted on request; training stopped"),
    (2, FAILED, None, None, "failed", "data: DataError: line 3: bad"),
    (1, DENIED, "abort", None, "aborted", "gate: ApprovalDenied: not approved"),
    (-15, KILLED, "pause", "step-000004", "paused", "stopped on request outside training"),
    (-15, KILLED, "pause", None, "aborted", "stopped on request (exit code -15), before any"),
    (-9, KILLED, None, None, "failed", "the process ended (exit code -9) while the run was"),
    (2, None, None, None, "failed", "the run did not start: model.source: no such folder"),
    (-15, None, "abort", None, "aborted", "stopped on request before the run started"),
    (-15, None, "pause", "step-000001", "paused", "stopped on request before the run started;"),
]


@pytest.mark.parametrize(("code", "manifest", "stop", "checkpoint", "status", "reason"), WATCHED)
def test_how_a_watched_job_ended(
    code: int,
    manifest: dict[str, Any] | None,
    stop: Any,
    checkpoint: str | None,
    status: str,
    reason: str,
) -> None:
    stderr = "boom" if manifest is not None else "error: model.source: no such folder\n"
    outcome = settle(code, manifest, stop, stderr, checkpoint)
    assert outcome.status == status
    assert (outcome.reason or "").startswith(reason)


def test_a_job_that_ended_unwatched_keeps_what_its_run_says_or_is_lost() -> None:
    assert settle_unwatched({"status": "completed"}, 41, None) == Outcome("completed")
    assert settle_unwatched(PAUSED, 41, "step-000007", "abort").status == "aborted"
    assert settle_unwatched(KILLED, 41, "step-000004") == Outcome(
        "lost",
        "process 41 ended while the service was not running and left the run 'running'; "
        "resume continues from step-000004",
    )
    assert settle_unwatched(None, 41, None).reason == (
        "process 41 ended while the service was not running, before its run started; "
        "no checkpoint to resume"
    )


def test_last_error_is_the_cli_message_or_the_last_line() -> None:
    cli = "loading...\nerror: recipe: 1 problem(s)\n  - train.steps: too small\n"
    assert last_error(cli) == "recipe: 1 problem(s)\n  - train.steps: too small"
    assert last_error("Traceback ...\nValueError: broken\n") == "ValueError: broken"
    assert last_error("") == ""


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("chats.jsonl", "chats.jsonl"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\data set.csv", "data_set.csv"),
        (".hidden.md", "hidden.md"),
        ("", "upload"),
        ("/", "upload"),
    ],
)
def test_upload_names_stay_inside_their_folder(given: str, stored: str) -> None:
    assert safe_name(given) == stored


def test_store_migrates_once_and_transitions_are_conditional(tmp_path: Path) -> None:
    store = Store(tmp_path / "jobs.sqlite3")
    assert store.migrate() == len(MIGRATIONS)
    assert store.migrate() == len(MIGRATIONS)  # a second start changes nothing
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    store.add_job("job-0123456789ab", "tiny", "/r.yaml")
    assert store.update_job("job-0123456789ab", when=("running",), status="paused") is None
    started = store.update_job("job-0123456789ab", when=("queued",), status="running")
    assert started is not None and started.status == "running"
    with pytest.raises(ValueError, match="unknown job columns"):
        store.update_job("job-0123456789ab", colour="red")


def test_event_log_tail_waits_for_whole_lines_and_survives_a_rewrite(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    tail = EventLogTail(log)
    assert tail.read_lines() == []  # no file yet
    log.write_text('{"seq": 0}\n{"seq": 1, "hal')
    assert tail.read_lines() == ['{"seq": 0}']
    with log.open("a") as file:
        file.write('f": 1}\n')
    assert tail.read_lines() == ['{"seq": 1, "half": 1}']
    log.write_text('{"seq": 0}\n')  # a resume dropped a torn line: read from the start
    assert tail.read_lines() == ['{"seq": 0}']


def test_an_idempotency_key_belongs_to_one_request(service: Service) -> None:
    client = service.client()
    key = {"Idempotency-Key": "key-1"}
    first = client.post("/api/jobs/job-0123456789ab/cancel", headers=key)
    assert first.status_code == 404  # refusals are stored too: a retry is refused the same way
    assert client.post("/api/jobs/job-0123456789ab/cancel", headers=key).json() == first.json()
    other = client.post("/api/jobs/job-ba9876543210/cancel", headers=key)
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    spaced = client.post("/api/jobs/job-0123456789ab/cancel", headers={"Idempotency-Key": "a b"})
    assert spaced.status_code == 400


def test_a_workspace_lock_has_one_owner_at_a_time(tmp_path: Path) -> None:
    first, second = (
        WorkspaceLock(tmp_path / "server" / "lock"),
        WorkspaceLock(tmp_path / "server" / "lock"),
    )
    first.acquire()
    with pytest.raises(WorkspaceBusyError, match=f"pid {os.getpid()}"):
        second.acquire()
    first.release()
    second.acquire()  # released: the next service may start
    second.release()


def test_a_quiet_stream_sends_heartbeats_then_ends_with_the_job(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, heartbeat_s=0.01, poll_s=0.01)
    store = Store(settings.database)
    store.migrate()
    store.add_job("job-0123456789ab", "tiny", "/r.yaml")

    async def read() -> list[str]:
        stream = job_events(settings, store, "job-0123456789ab", None)
        frames = [await anext(stream), await anext(stream)]  # nothing has happened yet
        store.update_job("job-0123456789ab", status="aborted", reason="cancelled")
        frames += [frame async for frame in stream]
        return frames

    frames = asyncio.run(read())
    assert frames[0].startswith("retry:") and frames[1] == ": heartbeat\n\n"
    assert frames[-1].startswith("event: end\ndata: ") and '"status":"aborted"' in frames[-1]
