"""A real service for tests: uvicorn on a free loopback port in a thread, an httpx client with
the token, an SSE reader, and polling with generous timeouts (never timed assertions)."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from scaler_wizard.server.app import create_app
from scaler_wizard.server.auth import issue_token
from scaler_wizard.server.processes import send_signal
from scaler_wizard.server.settings import Settings
from scaler_wizard.server.store import LIVE, Store

T = TypeVar("T")
WAIT_S = 180.0


def make_settings(root: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "workspace": root / "workspace",
        "poll_s": 0.05,
        "heartbeat_s": 0.5,
        "max_upload_bytes": 64 * 1024,
        "web_dist": root / "no-web-build",
        **changes,
    }
    return Settings(**values)


@dataclass
class Service:
    settings: Settings
    token: str = ""
    base_url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    def start(self) -> Service:
        self.token = issue_token(self.settings.token_file)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = create_app(self.settings, self.token)
        config = uvicorn.Config(app, log_level="critical", timeout_graceful_shutdown=3)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()
        server, thread = self._server, self._thread
        wait_for(lambda: server.started or not thread.is_alive(), "service start")
        if not server.started:
            raise RuntimeError("the service did not start")
        return self

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[sock])
        except SystemExit:  # uvicorn exits when the app fails to start; start() reports it
            sock.close()

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)

    def client(self, token: str | None = "") -> httpx.Client:
        """A client sending the service token (or `token`, or none when None)."""
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        client = httpx.Client(base_url=self.base_url, headers=headers, timeout=WAIT_S)
        self._clients.append(client)
        return client


def wait_for(check: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_job(client: httpx.Client, job_id: str, *statuses: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        return job if job["status"] in statuses else None

    try:
        return wait_for(check, f"job {job_id} to be {statuses}")
    except AssertionError:
        raise AssertionError(client.get(f"/api/jobs/{job_id}").json()) from None


@dataclass
class SseMessage:
    event: str = "message"
    id: int | None = None
    data: str = ""

    def json(self) -> Any:
        return json.loads(self.data)


def sse_messages(response: httpx.Response) -> Iterator[SseMessage]:
    """Messages of an SSE response as they arrive; comment lines (heartbeats) are skipped."""
    current = SseMessage()
    for line in response.iter_lines():
        if not line:
            if current.data or current.event != "message":
                yield current
            current = SseMessage()
        elif line.startswith(":"):
            continue
        elif line.startswith("id:"):
            current.id = int(line[3:].strip())
        elif line.startswith("event:"):
            current.event = line[6:].strip()
        elif line.startswith("data:"):
            current.data += ("\n" if current.data else "") + line[5:].strip()


def kill_live_jobs(settings: Settings) -> None:
    """Tests start real processes; none outlives its test."""
    if not settings.database.is_file():
        return
    for job in Store(settings.database).list_jobs(*LIVE):
        if job.pid is not None:
            send_signal(job.pid, job.pid_started, signal.SIGKILL)
