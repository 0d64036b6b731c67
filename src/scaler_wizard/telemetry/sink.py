"""What a sink is, and the optional abilities the bus and the queue look for.

A sink only has to `handle` events and `close`. The optional methods let a sink be polled for
time-based work (`poll`), emptied before the run ends (`drain`) and report what it lost
(`health`). The bus and the queue look each one up once per sink (`ability`): an `isinstance`
check against a runtime protocol costs microseconds, too much to pay on every event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scaler_wizard.telemetry.events import Event


class Sink(Protocol):
    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...


class Polled(Protocol):
    """Has time-based work (a batch that is due, a retry whose backoff ended)."""

    def poll(self) -> None: ...


class Drained(Protocol):
    """Can deliver what it holds before the run ends; gives up at the deadline."""

    def drain(self, timeout_s: float) -> None: ...


class Reporting(Protocol):
    """Counts its own failures and losses (those the bus cannot see)."""

    def health(self) -> SinkHealth: ...


@dataclass(frozen=True)
class SinkHealth:
    errors: int = 0
    dropped: int = 0
    last_error: str = ""

    def __add__(self, other: SinkHealth) -> SinkHealth:
        return SinkHealth(
            self.errors + other.errors,
            self.dropped + other.dropped,
            other.last_error or self.last_error,
        )


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory may need to know about the run it observes."""

    run_id: str
    run_dir: Path
    config: dict[str, Any]


def ability(sink: object, name: str) -> Callable[..., Any] | None:
    """The sink's optional method `name` ('poll', 'drain' or 'health'), or None."""
    method = getattr(sink, name, None)
    return method if callable(method) else None


def sink_name(sink: object) -> str:
    name = getattr(sink, "name", None)
    return name if isinstance(name, str) and name else type(sink).__name__


def describe(error: BaseException) -> str:
    """One short line for an event: the type, then the message with its lines joined."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return f"{type(error).__name__}: {text[:300]}" if text else type(error).__name__
