"""A sink on its own thread behind a bounded queue, so a slow observer never slows training.

`handle` only appends to the queue (dropping the event, counted, when the queue is full); a
daemon worker hands events on in order and polls the wrapped sink for time-based work. At the
end `drain` waits, up to a deadline, until the worker has handed everything on and the wrapped
sink has delivered what it buffers; `close` stops the worker and closes the wrapped sink.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from scaler_wizard.telemetry.events import Event
from scaler_wizard.telemetry.sink import Sink, SinkHealth, ability, describe, sink_name


class QueuedSink:
    def __init__(
        self,
        sink: Sink,
        *,
        max_queue: int = 10_000,
        poll_interval_s: float = 0.2,
        close_timeout_s: float = 10.0,
        name: str | None = None,
    ) -> None:
        self.sink = sink
        self.name = name or sink_name(sink)
        self.max_queue = max_queue
        self.poll_interval_s = poll_interval_s
        self.close_timeout_s = close_timeout_s
        self._poll = ability(sink, "poll")
        self._drain = ability(sink, "drain")
        self._inner_health = ability(sink, "health")
        self._items: deque[Event] = deque()
        self._cond = threading.Condition()
        self._own = SinkHealth()  # drops here, errors raised by the wrapped sink
        self._drain_until: float | None = None
        self._drained = threading.Event()
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name=f"sink-{self.name}", daemon=True)
        self._worker.start()

    def handle(self, event: Event) -> None:
        with self._cond:
            if self._stopping or len(self._items) >= self.max_queue:
                self._own = self._own + SinkHealth(dropped=1)
                return
            self._items.append(event)
            self._cond.notify()

    def drain(self, timeout_s: float) -> None:
        with self._cond:
            self._drained.clear()
            self._drain_until = time.monotonic() + timeout_s
            self._cond.notify()
        self._drained.wait(timeout_s)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._worker.join(self.close_timeout_s)
        if self._worker.is_alive():  # stuck in the wrapped sink: what is queued is lost
            with self._cond:
                lost, self._items = len(self._items), deque()
                self._own = self._own + SinkHealth(dropped=lost, last_error="closed while stuck")

    def health(self) -> SinkHealth:
        with self._cond:
            own = self._own
        if self._inner_health is not None:
            inner: SinkHealth = self._inner_health()
            return own + inner
        return own

    def queued(self) -> int:
        with self._cond:
            return len(self._items)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._items and not self._stopping and self._drain_until is None:
                    self._cond.wait(self.poll_interval_s)
                event = self._items.popleft() if self._items else None
                drain_until = self._drain_until if event is None else None
                if drain_until is not None:
                    self._drain_until = None
                stop = self._stopping and event is None
            if event is not None:
                self._guard(self.sink.handle, event)
            if self._poll is not None:
                self._guard(self._poll)
            if drain_until is not None:
                if self._drain is not None:
                    self._guard(self._drain, max(0.0, drain_until - time.monotonic()))
                self._drained.set()
            if stop:
                self._guard(self.sink.close)
                return

    def _guard(self, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except Exception as exc:  # counted and reported by the bus; the worker keeps going
            with self._cond:
                self._own = self._own + SinkHealth(errors=1, last_error=describe(exc))
