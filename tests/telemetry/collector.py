"""A real HTTP event collector on localhost, served from a thread, for the HTTP sink's tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A port nothing listens on (yet): the collector is 'down' until started on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """Poll `condition`; the timeout only bounds a failing test, no assertion is about time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Collector:
    """Stores every accepted batch. `gate`, when given, holds each request until it is set;
    `statuses` scripts the replies (then 200); every attempt is kept in `attempts`."""

    def __init__(
        self,
        port: int = 0,
        gate: threading.Event | None = None,
        statuses: list[int] | None = None,
    ) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.attempts: list[dict[str, Any]] = []
        self.waiting = 0  # requests held at the gate right now
        self._gate = gate
        self._statuses = list(statuses or [])
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for batch in self.batches for event in batch]

    def close(self) -> None:
        if self._gate is not None:
            self._gate.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                collector._hold()
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = collector._record(dict(self.headers), json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _hold(self) -> None:
        if self._gate is None:
            return
        with self._lock:
            self.waiting += 1
        self._gate.wait()
        with self._lock:
            self.waiting -= 1

    def _record(self, headers: dict[str, str], batch: list[dict[str, Any]]) -> int:
        with self._lock:
            status = self._statuses.pop(0) if self._statuses else 200
            self.attempts.append({"headers": headers, "batch": batch, "status": status})
            if 200 <= status < 300:
                self.batches.append(batch)
            return status
