"""Send events to an HTTP collector: JSON arrays in batches, retried with backoff, bounded.

Delivery is at least once and in `seq` order. A batch leaves the buffer only when the collector
answered 2xx; until then it is retried after an exponential backoff with jitter (or the
collector's `Retry-After`), while new events keep arriving behind it. The buffer holds at most
`max_buffer` events: beyond that the oldest are dropped and counted, so an outage costs the
oldest events, never memory. Every POST of the same batch carries the same `Idempotency-Key`,
so a collector can drop a batch it already stored (a reply lost on the way back).

Not thread-safe by design: wrap it in `QueuedSink`, whose worker calls `handle`, `poll` (time
based batches and retries) and `drain` (the last attempts before the run ends).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from itertools import islice

import httpx

from scaler_wizard.telemetry.events import Event
from scaler_wizard.telemetry.sink import SinkHealth, describe

# Worth retrying: the collector is overloaded, restarting or timed out. Any other 4xx means it
# refuses this batch for good (bad body, bad token), so the batch is dropped and counted.
RETRY_STATUS = frozenset({408, 425, 429, *range(500, 600)})


def backoff_delay(failures: int, initial_s: float, max_s: float, jitter: float) -> float:
    """Seconds to wait after `failures` failed attempts in a row ("equal jitter": half fixed,
    half random in [0, 1), so many runs retrying together spread out but never hammer)."""
    base = min(max_s, initial_s * 2.0 ** max(0, failures - 1))
    return base * (0.5 + 0.5 * jitter)


class HttpSink:
    name = "http"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        batch_size: int = 100,
        flush_interval_s: float = 2.0,
        max_buffer: int = 10_000,
        timeout_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_buffer = max_buffer
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._clock = clock
        self._jitter = jitter
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(timeout=timeout_s, headers=headers)
        self._buffer: deque[Event] = deque()
        self._since = clock()  # start of the wait for the next time-based batch
        self._failures = 0  # failed attempts in a row
        self._retry_at = 0.0
        self._health = SinkHealth()
        self.sent = 0

    def handle(self, event: Event) -> None:
        if not self._buffer:
            self._since = self._clock()
        if len(self._buffer) >= self.max_buffer:
            self._buffer.popleft()
            self._health = self._health + SinkHealth(dropped=1)
        self._buffer.append(event)
        self.poll()

    def poll(self) -> None:
        """Send every batch that is due: full, old enough, or a retry whose backoff ended."""
        while self._buffer and self._clock() >= self._retry_at and self._due():
            if not self._send_batch():
                return

    def drain(self, timeout_s: float) -> None:
        """Last attempts before the run ends; what is still here at the deadline is dropped."""
        deadline = self._clock() + timeout_s
        while self._buffer and self._clock() < deadline:
            wait = min(self._retry_at, deadline) - self._clock()
            if wait > 0:
                time.sleep(wait)
            else:
                self._send_batch()
        self._drop_rest("gave up at the drain deadline")

    def close(self) -> None:
        while self._buffer and self._send_batch():  # one attempt: drain already waited
            pass
        self._drop_rest("closed with events unsent")
        self._client.close()

    def health(self) -> SinkHealth:
        return self._health

    def buffered(self) -> int:
        return len(self._buffer)

    def _due(self) -> bool:
        return (
            self._failures > 0
            or len(self._buffer) >= self.batch_size
            or self._clock() - self._since >= self.flush_interval_s
        )

    def _send_batch(self) -> bool:
        batch = list(islice(self._buffer, self.batch_size))
        body = "[" + ",".join(e.model_dump_json() for e in batch) + "]"
        key = f"{batch[0].id}-{batch[-1].id}"  # same batch, same key, on every retry
        try:
            response = self._client.post(self.url, content=body, headers={"Idempotency-Key": key})
        except httpx.HTTPError as exc:
            return self._failed(describe(exc), retry_after=None)
        if response.status_code in RETRY_STATUS:
            return self._failed(f"HTTP {response.status_code}", _retry_after(response))
        for _ in batch:
            self._buffer.popleft()
        self._failures, self._since = 0, self._clock()
        if response.is_success:
            self.sent += len(batch)
        else:
            self._health = self._health + SinkHealth(
                errors=1, dropped=len(batch), last_error=f"HTTP {response.status_code} (refused)"
            )
        return True

    def _failed(self, error: str, retry_after: float | None) -> bool:
        self._failures += 1
        self._health = self._health + SinkHealth(errors=1, last_error=error)
        delay = backoff_delay(
            self._failures, self.backoff_initial_s, self.backoff_max_s, self._jitter()
        )
        if retry_after is not None:
            delay = min(self.backoff_max_s, max(delay, retry_after))
        self._retry_at = self._clock() + delay
        return False

    def _drop_rest(self, why: str) -> None:
        if self._buffer:
            lost, self._buffer = len(self._buffer), deque()
            self._health = self._health + SinkHealth(dropped=lost, last_error=why)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
