"""Real jobs on a tiny model: each is a `scaler-wizard grow` child process of a real service.

Few and small on purpose: every job loads torch in its own process.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from service_helpers import Service, SseMessage, sse_messages, wait_for, wait_for_job

from scaler_wizard.server.settings import Settings


def follow(service: Service, job_id: str, **headers: str) -> list[SseMessage]:
    """Every message of a job's stream until its `end` (token in the URL, as EventSource)."""
    client = service.client(token=None)
    url, params = f"/api/jobs/{job_id}/events", {"token": service.token}
    with client.stream("GET", url, params=params, headers=headers) as response:
        assert (
            response.status_code == 200 and "text/event-stream" in response.headers["content-type"]
        )
        messages = []
        for message in sse_messages(response):
            messages.append(message)
            if message.event == "end":
                return messages
    raise AssertionError(f"stream ended without an end message: {messages}")


def test_job_through_an_approval_gate_to_a_downloadable_artifact(
    service: Service, tiny_job: dict[str, Any]
) -> None:
    client = service.client()
    tiny_job["overrides"].update({"gates.approve_before": ["export"], "gates.timeout_s": 120})
    created = client.post("/api/jobs", json=tiny_job, headers={"Idempotency-Key": "create-1"})
    assert created.status_code == 201, created.text
    retried = client.post("/api/jobs", json=tiny_job, headers={"Idempotency-Key": "create-1"})
    assert retried.json() == created.json() and retried.headers["Idempotent-Replayed"] == "true"
    job_id = created.json()["id"]
    assert [j["id"] for j in client.get("/api/jobs").json()] == [job_id]  # created once

    events: list[dict[str, Any]] = []
    approvals: list[Any] = []
    url, params = f"/api/jobs/{job_id}/events", {"token": service.token}
    with service.client(token=None).stream("GET", url, params=params) as response:
        for message in sse_messages(response):
            if message.event == "end":
                end = message.json()
                break
            event = message.json()
            assert message.id == event["seq"]
            events.append(event)
            if event["type"] == "ApprovalRequested":
                key = {"Idempotency-Key": "approve-1"}
                approve = f"/api/jobs/{job_id}/approve"
                first = client.post(approve, json={"note": "numbers checked"}, headers=key)
                again = client.post(approve, json={"note": "numbers checked"}, headers=key)
                other = client.post(approve, json={"note": "twice?"})
                approvals = [first, again, other]
    first, again, other = approvals
    assert first.status_code == 200 and "approved 'export'" in first.json()["message"]
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409  # a new request does act, and the gate is decided

    types = [e["type"] for e in events]
    assert types[0] == "RunStarted" and types[-1] == "RunFinished"
    assert "ApprovalDecided" in types
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert end["status"] == "completed" and end["exit_code"] == 0

    # A reconnect with Last-Event-ID replays only what came after it.
    middle = events[len(events) // 2]["seq"]
    replay = follow(service, job_id, **{"Last-Event-ID": str(middle)})
    assert [m.id for m in replay[:-1]] == [e["seq"] for e in events if e["seq"] > middle]

    job = client.get(f"/api/jobs/{job_id}").json()
    run_id = job["run_id"]
    assert job["run_status"] == "completed" and job["metrics"]["grown"]["eval_loss"] > 0
    manifest = client.get(f"/api/runs/{run_id}").json()
    assert manifest["approvals"][0]["note"] == "numbers checked"
    files = {f["path"] for f in client.get(f"/api/runs/{run_id}/files").json()}
    assert {"model/config.json", "adapter/adapter_config.json", "README.md"} <= files
    download = service.client(token=None).get(
        f"/api/runs/{run_id}/files/model/config.json", params={"token": service.token}
    )
    assert download.status_code == 200
    assert download.json()["architectures"] == ["LlamaForCausalLM"]
    report = client.get(f"/api/runs/{run_id}/report")
    assert report.status_code == 200 and run_id in report.text


def test_cancel_reaches_a_job_reattached_after_a_restart_then_rollback_and_abort(
    settings: Settings, tiny_job: dict[str, Any]
) -> None:
    tiny_job["overrides"].update({"train.steps": 100_000, "train.checkpoint_every": 1})
    first = Service(settings).start()
    job_id = first.client().post("/api/jobs", json=tiny_job).json()["id"]
    url, params = f"/api/jobs/{job_id}/events", {"token": first.token}
    with first.client(token=None).stream("GET", url, params=params) as response:
        seen = next(m for m in sse_messages(response) if m.json()["type"] == "CheckpointSaved")
    first.stop()  # the job trains on, watched by no one

    second = Service(settings).start()
    client = second.client()
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "running"
    cancelled = client.post(f"/api/jobs/{job_id}/cancel").json()
    assert "checkpoints and pauses" in cancelled["message"]
    rest = follow(second, job_id, **{"Last-Event-ID": str(seen.id)})
    assert rest[0].id == (seen.id or 0) + 1  # the stream resumes across the restart
    assert [m.json()["type"] for m in rest[-2:-1]] == ["RunPaused"]
    end = rest[-1].json()
    assert end["status"] == "paused" and end["reason"].startswith("paused at step")

    rolled = client.post(f"/api/jobs/{job_id}/rollback", json={"to": "step-000001"})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["job"]["status"] == "rolled_back"
    manifest = client.get(f"/api/runs/{end['run_id']}").json()
    assert manifest["status"] == "rolled_back" and manifest["rollbacks"][0]["to"] == "step-000001"

    # Resumed, the same job continues the same run; a cancel pauses it again.
    resumed = client.post(f"/api/jobs/{job_id}/resume").json()
    assert resumed["job"]["status"] == "queued" and resumed["job"]["resume"]
    wait_for_job(client, job_id, "running")
    client.post(f"/api/jobs/{job_id}/cancel")
    again = wait_for_job(client, job_id, "paused")
    assert again["run_id"] == end["run_id"] and "step" in again["reason"]

    aborted = client.post(f"/api/jobs/{job_id}/abort", json={"note": "enough"}).json()
    assert aborted["job"]["status"] == "aborted" and "enough" in aborted["job"]["reason"]
    refused = client.post(f"/api/jobs/{job_id}/cancel")
    assert refused.status_code == 409 and "aborted" in refused.json()["detail"]
    second.stop()


def bad_data(path: Path) -> Path:
    """Valid JSON whose records are not conversations: the run fails in its data phase."""
    path.write_text("".join(json.dumps({"messages": "hello"}) + "\n" for _ in range(8)))
    return path


def test_a_crash_shows_why_and_a_job_killed_while_the_service_is_down_is_lost(
    settings: Settings, tiny_job: dict[str, Any], tmp_path: Path
) -> None:
    first = Service(settings).start()
    client = first.client()
    crash = {**tiny_job, "overrides": {**tiny_job["overrides"]}}
    crash["overrides"]["data.train"] = str(bad_data(tmp_path / "bad.jsonl"))
    crash_id = client.post("/api/jobs", json=crash).json()["id"]
    doomed_id = client.post("/api/jobs", json=tiny_job).json()["id"]

    wait_for_job(client, crash_id, "running")
    assert client.get(f"/api/jobs/{doomed_id}").json()["status"] == "queued"  # one at a time
    crashed = wait_for_job(client, crash_id, "failed")
    assert crashed["reason"].startswith("data:") and "line 1" in crashed["reason"]
    assert "data failed" in crashed["stderr_tail"] and crashed["exit_code"] == 2
    assert [m.json()["type"] for m in follow(first, crash_id)[-2:-1]] == ["RunFailed"]

    pid = wait_for(lambda: client.get(f"/api/jobs/{doomed_id}").json()["pid"], "the job's process")
    first.stop()
    os.kill(pid, signal.SIGKILL)  # dies while no service watches it
    wait_for(lambda: not _running(pid), "the killed process to exit")

    second = Service(settings).start()  # a new app on the same SQLite file
    try:
        jobs = {j["id"]: j for j in second.client().get("/api/jobs").json()}
        assert (
            jobs[crash_id]["status"] == "failed" and jobs[crash_id]["reason"] == crashed["reason"]
        )
        lost = jobs[doomed_id]
        assert lost["status"] == "lost" and lost["pid"] is None
        assert f"process {pid} ended while the service was not running" in lost["reason"]
    finally:
        second.stop()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
