"""The event bus: stamps the envelope, hands each event to every sink; no sink breaks a run."""

from __future__ import annotations

import uuid
from typing import Protocol

from scaler_wizard.telemetry.events import Event, Payload


class Sink(Protocol):
    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...


class EventBus:
    def __init__(self, run_id: str, sinks: list[Sink] | None = None, first_seq: int = 0) -> None:
        self.run_id = run_id
        self.sinks: list[Sink] = list(sinks or [])
        self.step = 0
        self.segment = 0
        self.sink_errors = 0
        self.next_seq = first_seq

    def emit(self, payload: Payload) -> Event:
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
        for sink in self.sinks:
            try:
                sink.handle(event)
            except Exception:  # a broken observer must never stop the run; it is counted
                self.sink_errors += 1
        return event

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                self.sink_errors += 1
