"""An alert: what a person should look at, derived from one event (or a flood of them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from scaler_wizard.telemetry.events import AlertCleared, AlertPriority, AlertRaised

# Lower rank = more urgent. Warning: act now; caution: act soon; advisory: awareness.
ClearReason = Literal["finished", "preempted", "inhibited", "acknowledged", "run_ended"]

RANK: dict[AlertPriority, int] = {"warning": 0, "caution": 1, "advisory": 2}


@dataclass(frozen=True)
class Alert:
    id: str
    priority: AlertPriority
    title: str
    message: str
    rule: str
    key: str  # related alerts share a key: inhibition and flood grouping work per key
    inhibits: tuple[str, ...] = ()  # keys whose lower-priority alerts a warning silences
    source_seq: int | None = None
    run_id: str = ""
    count: int = 1  # > 1 for a flood summary
    fields: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)


def outranks(a: AlertPriority, b: AlertPriority) -> bool:
    """True when `a` is strictly more urgent than `b`."""
    return RANK[a] < RANK[b]


def at_least(priority: AlertPriority, floor: AlertPriority) -> bool:
    return RANK[priority] <= RANK[floor]


def raised_payload(alert: Alert) -> AlertRaised:
    return AlertRaised(
        alert_id=alert.id,
        priority=alert.priority,
        title=alert.title,
        message=alert.message,
        rule=alert.rule,
        source_seq=alert.source_seq,
        count=alert.count,
    )


def cleared_payload(alert: Alert, reason: ClearReason) -> AlertCleared:
    return AlertCleared(alert_id=alert.id, reason=reason)
