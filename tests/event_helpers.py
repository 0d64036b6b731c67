"""A telemetry sink that keeps every event in memory, for assertions."""

from __future__ import annotations

from scaler_wizard.telemetry.events import Event


class Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]
