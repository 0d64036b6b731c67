"""The event bus: stamps the envelope and hands each event to every sink, in `seq` order.

No sink breaks a run: a handler error is counted, and a sink that fails or loses events is
reported to the others as a `SinkDegraded` event (rate-limited per sink, and once more at close
when its counts changed).

Any thread may emit, and a sink may emit from inside `handle` (the alerts engine does). Only one
thread delivers at a time: an event emitted while another is being handed out is queued and
delivered right after it by the thread already delivering, so every sink sees `seq` strictly
increase and a sink is never called from two threads at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from functools import partial

from scaler_wizard.telemetry.events import Event, Payload, SinkDegraded
from scaler_wizard.telemetry.sink import Sink, SinkHealth, ability, describe, sink_name

__all__ = ["EventBus", "Sink"]


class EventBus:
    def __init__(
        self,
        run_id: str,
        sinks: list[Sink] | None = None,
        first_seq: int = 0,
        *,
        report_every_s: float = 30.0,
        drain_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_id = run_id
        self.sinks: list[Sink] = list(sinks or [])
        self.step = 0
        self.segment = 0
        self.next_seq = first_seq
        self.report_every_s = report_every_s
        self.drain_timeout_s = drain_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: deque[Event] = deque()
        self._delivering = False
        # Per sink (by identity, so a sink appended later is tracked too).
        self._errors: dict[int, SinkHealth] = {}
        self._reported: dict[int, tuple[SinkHealth, float]] = {}
        self._health_of: dict[int, Callable[[], SinkHealth] | None] = {}

    @property
    def sink_errors(self) -> int:
        """Handler errors the bus caught, over all sinks."""
        return sum(h.errors for h in self._errors.values())

    def emit(self, payload: Payload) -> Event:
        with self._lock:
            event = Event(
                id=uuid.uuid4().hex,
                type=type(payload).__name__,
                run_id=self.run_id,
                seq=self.next_seq,
                step=self.step,
                segment=self.segment,
                data=payload.model_dump(mode="json"),
            )
            self.next_seq += 1
            self._pending.append(event)
            if self._delivering:
                return event  # the delivering thread hands it on after the current event
            self._delivering = True
        self._deliver()
        return event

    def close(self) -> None:
        # Empty the queued sinks first so that the final health report counts what they lost.
        for sink in list(self.sinks):
            drain = ability(sink, "drain")
            if drain is not None:
                self._call(sink, partial(drain, self.drain_timeout_s))
        self._report(final=True)
        for sink in list(self.sinks):
            self._call(sink, sink.close)

    def _deliver(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        self._delivering = False
                        return
                    event = self._pending.popleft()
                for sink in list(self.sinks):
                    self._call(sink, partial(sink.handle, event))
                if event.type != "SinkDegraded":  # its own failures wait for the next event
                    self._report(final=False)
        except BaseException:  # e.g. KeyboardInterrupt inside a sink: let a later emit deliver
            with self._lock:
                self._delivering = False
            raise

    def _call(self, sink: Sink, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # a broken observer must never stop the run; it is counted
            key = id(sink)
            self._errors[key] = self._errors.get(key, SinkHealth()) + SinkHealth(
                errors=1, last_error=describe(exc)
            )

    def _health(self, sink: Sink) -> SinkHealth:
        key = id(sink)
        if key not in self._health_of:
            self._health_of[key] = ability(sink, "health")
        health = self._errors.get(key, SinkHealth())
        report = self._health_of[key]
        if report is not None:
            try:
                health = health + report()
            except Exception as exc:
                health = health + SinkHealth(errors=1, last_error=describe(exc))
        return health

    def _report(self, final: bool) -> None:
        """Emit `SinkDegraded` for each sink whose counts grew since its last report.

        The event is queued behind the current one (never delivered recursively), and the rate
        limit keeps a sink that fails on every event from flooding the log.
        """
        now = self._clock()
        for sink in list(self.sinks):
            health = self._health(sink)
            if health.errors == 0 and health.dropped == 0:
                continue
            last, at = self._reported.get(id(sink), (SinkHealth(), -float("inf")))
            if (health.errors, health.dropped) == (last.errors, last.dropped):
                continue
            if not final and now - at < self.report_every_s:
                continue
            self._reported[id(sink)] = (health, now)
            self.emit(
                SinkDegraded(
                    sink=sink_name(sink),
                    errors=health.errors,
                    dropped=health.dropped,
                    last_error=health.last_error,
                )
            )
