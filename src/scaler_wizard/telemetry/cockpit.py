"""The cockpit snapshot: the state the web app's status strip shows, folded from events.

`fold(snapshot, event)` is pure. Replaying a log gives the snapshot that following it live
gave, and an event already folded (`seq` ≤ `last_seq`) or from another run changes nothing, so
a reconnecting stream may resend events. Folding reads the raw `data` (a replayed log has
`null` where a live event had NaN) and keeps only finite numbers. A snapshot is checked by
`validate_snapshot` before it is published: `SnapshotPublisher` counts a rejected one and never
passes it on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scaler_wizard.telemetry.events import AlertPriority, BreakerStatus, Event, Phase
from scaler_wizard.telemetry.sink import SinkHealth, describe

RunStatus = Literal[
    "starting", "running", "paused", "awaiting_approval", "completed", "failed", "rolled_back"
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ActiveAlert(_Part):
    alert_id: str
    priority: AlertPriority
    title: str
    message: str


class PendingApproval(_Part):
    point: str = Field(description="Where the run waits, e.g. 'export' or 'stage'.")
    deadline: datetime = Field(description="When the request times out (and is denied).")


class SinkState(_Part):
    errors: int = Field(ge=0)
    dropped: int = Field(ge=0)
    last_error: str = ""


class CockpitSnapshot(_Part):
    """One run at a glance; every number is finite, `None` until first known."""

    run_id: str = Field(min_length=1)
    status: RunStatus = "starting"
    phase: Phase | None = None
    step: int = Field(0, ge=0, description="Optimizer step (goes back after a rollback).")
    total_steps: int | None = Field(None, ge=0, description="Steps of the current training.")
    segment: int = Field(0, ge=0, description="Bumped at each rollback.")
    loss: float | None = Field(None, description="Latest logged training loss.")
    eval_perplexity: float | None = Field(None, ge=0, description="Latest held-out perplexity.")
    tokens_per_s: float | None = Field(None, ge=0)
    eta_s: float | None = Field(None, ge=0, description="Estimated seconds of training left.")
    memory_gib: float | None = Field(None, ge=0)
    breaker: BreakerStatus = "closed"
    breaker_reason: str | None = Field(None, description="Why the breaker last tripped.")
    alert: ActiveAlert | None = None
    approval: PendingApproval | None = None
    last_checkpoint: str | None = None
    sinks: dict[str, SinkState] = Field(
        default_factory=dict, description="Telemetry sinks that reported trouble."
    )
    last_seq: int = Field(-1, ge=-1, description="`seq` of the last event folded in.")
    updated_at: datetime | None = None


Update = dict[str, Any]
Folder = Callable[[CockpitSnapshot, Event, Mapping[str, Any]], Update]


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _step_logged(_: CockpitSnapshot, __: Event, d: Mapping[str, Any]) -> Update:
    return {k: _number(d, k) for k in ("loss", "tokens_per_s", "eta_s", "memory_gib")}


def _progress(s: CockpitSnapshot, _: Event, d: Mapping[str, Any]) -> Update:
    return {"total_steps": int(d["total"])} if d.get("task") == "train" else {}


def _eval(s: CockpitSnapshot, _: Event, d: Mapping[str, Any]) -> Update:
    perplexity = _number(d.get("metrics") or {}, "eval_perplexity")
    return {"eval_perplexity": perplexity} if perplexity is not None else {}


def _approval(_: CockpitSnapshot, e: Event, d: Mapping[str, Any]) -> Update:
    deadline = e.time + timedelta(seconds=float(d["timeout_s"]))
    return {
        "status": "awaiting_approval",
        "approval": PendingApproval(point=d["point"], deadline=deadline),
    }


def _alert(_: CockpitSnapshot, __: Event, d: Mapping[str, Any]) -> Update:
    fields = ("alert_id", "priority", "title", "message")
    return {"alert": ActiveAlert(**{k: d[k] for k in fields})}


def _alert_cleared(s: CockpitSnapshot, _: Event, d: Mapping[str, Any]) -> Update:
    return {"alert": None} if s.alert is not None and s.alert.alert_id == d["alert_id"] else {}


def _sink(s: CockpitSnapshot, _: Event, d: Mapping[str, Any]) -> Update:
    state = SinkState(errors=d["errors"], dropped=d["dropped"], last_error=d.get("last_error", ""))
    return {"sinks": {**s.sinks, d["sink"]: state}}


# Event type → the fields it changes. Types not listed only move the envelope fields.
FOLDERS: dict[str, Folder] = {
    "RunStarted": lambda s, e, d: {"status": "running", "approval": None},
    "PhaseStarted": lambda s, e, d: {"phase": d["phase"]},
    "ProgressUpdated": _progress,
    "StepLogged": _step_logged,
    "EvalCompleted": _eval,
    "CheckpointSaved": lambda s, e, d: {"last_checkpoint": d["path"]},
    "ApprovalRequested": _approval,
    "ApprovalDecided": lambda s, e, d: {"status": "running", "approval": None},
    "RolledBack": lambda s, e, d: {"status": "rolled_back", "last_checkpoint": d["checkpoint"]},
    # A terminal event ends the alert too: the alerts engine emits nothing after it.
    "RunPaused": lambda s, e, d: {
        "status": "paused",
        "last_checkpoint": d["checkpoint"],
        "alert": None,
    },
    "RunFinished": lambda s, e, d: {
        "status": "completed",
        "approval": None,
        "eta_s": 0.0,
        "alert": None,
    },
    "RunFailed": lambda s, e, d: {"status": "failed", "approval": None, "alert": None},
    "BreakerWarned": lambda s, e, d: {"breaker": d["state"]},
    "BreakerTripped": lambda s, e, d: {"breaker": "open", "breaker_reason": d["reason"]},
    "BreakerProbationStarted": lambda s, e, d: {"breaker": "half_open"},
    "BreakerRecovered": lambda s, e, d: {"breaker": "closed"},
    "AlertRaised": _alert,
    "AlertCleared": _alert_cleared,
    "SinkDegraded": _sink,
}


def fold(snapshot: CockpitSnapshot, event: Event) -> CockpitSnapshot:
    """The snapshot after `event`; the same snapshot (identical object) when it changes nothing."""
    if event.run_id != snapshot.run_id or event.seq <= snapshot.last_seq:
        return snapshot
    folder = FOLDERS.get(event.type)
    update = folder(snapshot, event, event.data) if folder else {}
    envelope = {
        "step": event.step,
        "segment": event.segment,
        "last_seq": event.seq,
        "updated_at": event.time,
    }
    return snapshot.model_copy(update={**update, **envelope})


@dataclass(frozen=True)
class SnapshotCheck:
    snapshot: CockpitSnapshot | None
    reason: str = ""


def validate_snapshot(payload: Mapping[str, Any]) -> SnapshotCheck:
    """A JSON-ready payload → the snapshot, or the reason it must not be published."""
    try:
        return SnapshotCheck(CockpitSnapshot.model_validate(payload))
    except ValidationError as exc:
        return SnapshotCheck(None, _reason(exc))


def _reason(exc: Exception) -> str:
    if not isinstance(exc, ValidationError):
        return describe(exc)
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(snapshot)'}: {e['msg']}" for e in exc.errors()
    )


class SnapshotPublisher:
    """A sink that folds events and publishes each new valid snapshot to `publish`."""

    name = "cockpit"

    def __init__(self, run_id: str, publish: Callable[[CockpitSnapshot], None]) -> None:
        self.snapshot = CockpitSnapshot(run_id=run_id)
        self.publish = publish
        self.rejected = 0
        self.last_rejection = ""

    def handle(self, event: Event) -> None:
        try:
            folded = fold(self.snapshot, event)
        except (KeyError, TypeError, ValueError) as exc:  # a malformed event from a replay
            self._reject(event, _reason(exc))
            return
        if folded is self.snapshot:
            return
        # The check runs on the JSON the browser would get, not on the Python object.
        check = validate_snapshot(folded.model_dump(mode="json"))
        if check.snapshot is None:
            self._reject(event, check.reason)
            return
        self.snapshot = check.snapshot
        self.publish(check.snapshot)

    def _reject(self, event: Event, reason: str) -> None:
        self.rejected += 1
        self.last_rejection = f"seq {event.seq} ({event.type}): {reason}"

    def health(self) -> SinkHealth:
        return SinkHealth(errors=self.rejected, last_error=self.last_rejection)

    def close(self) -> None:
        pass
