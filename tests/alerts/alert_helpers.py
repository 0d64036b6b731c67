"""Builders for alert tests: alerts, events with an envelope, and a readable throttle log."""

from __future__ import annotations

from typing import Any

from scaler_wizard.alerts.model import Alert
from scaler_wizard.alerts.throttle import Clear, Drop, Output, Show
from scaler_wizard.recipe.alerts import ThrottleSpec
from scaler_wizard.telemetry.events import AlertPriority, Event, SinkDegraded

# Short, round timings so each table row reads at a glance.
SPEC = ThrottleSpec(
    min_display_s=2,
    warning_display_s=10,
    caution_display_s=5,
    advisory_display_s=3,
    flood_window_s=30,
    flood_threshold=3,
    inhibit_hold_s=20,
)


def sink_degraded(sink: str = "http") -> SinkDegraded:
    """A sink's trouble report, as the bus emits it."""
    return SinkDegraded(sink=sink, errors=1, dropped=0, last_error="connection refused")


class Clock:
    """The throttle's time, moved by hand: no test waits or measures real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def alert(
    alert_id: str,
    priority: AlertPriority = "caution",
    key: str | None = None,
    inhibits: tuple[str, ...] | None = None,
    rule: str | None = None,
) -> Alert:
    key = key or alert_id
    return Alert(
        id=alert_id,
        priority=priority,
        title=f"title {alert_id}",
        message="",
        rule=rule or alert_id,
        key=key,
        inhibits=inhibits if inhibits is not None else (key,),
    )


def event(kind: str, seq: int = 0, at_step: int = 0, **data: Any) -> Event:
    return Event(id=f"e{seq}", type=kind, run_id="run-1", seq=seq, step=at_step, data=data)


def brief(output: Output) -> tuple[str, ...]:
    if isinstance(output, Show):
        return ("show", output.alert.id)
    if isinstance(output, Clear):
        return ("clear", output.alert.id, output.reason)
    if isinstance(output, Drop):
        return ("drop", output.alert.id, output.reason)
    raise TypeError(output)
