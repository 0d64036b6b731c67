"""The cockpit snapshot: a pure fold over events, checked before it is published."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scaler_wizard.telemetry.cockpit import (
    CockpitSnapshot,
    SnapshotPublisher,
    fold,
    validate_snapshot,
)
from scaler_wizard.telemetry.events import Event

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "cockpit-snapshot.schema.json"
SHOWN = {"alert_id": "a1", "priority": "warning", "title": "Loss spike", "message": "m"}
ALERT = {**SHOWN, "rule": "spike"}


def at(snapshot: CockpitSnapshot, kind: str, data: dict[str, Any], **envelope: Any) -> Event:
    """The next event of the snapshot's run."""
    return Event(
        id=f"e{snapshot.last_seq + 1}",
        type=kind,
        time=T0,
        run_id=snapshot.run_id,
        seq=snapshot.last_seq + 1,
        data=data,
        **envelope,
    )


def start(**fields: Any) -> CockpitSnapshot:
    return CockpitSnapshot(run_id="run-1", **fields)


STEP = {
    "loss": 2.5,
    "grad_norm": 0.9,
    "learning_rate": 1e-4,
    "tokens_per_s": 900.0,
    "memory_gib": 3.5,
    "eta_s": 60.0,
    "label_tokens": 128,
}
CASES: list[tuple[str, CockpitSnapshot, str, dict[str, Any], dict[str, Any]]] = [
    (
        "run starts",
        start(),
        "RunStarted",
        {"recipe_name": "x", "run_dir": "/r"},
        {"status": "running"},
    ),
    ("phase", start(), "PhaseStarted", {"phase": "train"}, {"phase": "train"}),
    (
        "train total",
        start(),
        "ProgressUpdated",
        {"task": "train", "done": 3, "total": 40},
        {"total_steps": 40},
    ),
    (
        "other progress",
        start(),
        "ProgressUpdated",
        {"task": "passkey", "done": 1, "total": 9},
        {"total_steps": None},
    ),
    (
        "step",
        start(),
        "StepLogged",
        STEP,
        {"loss": 2.5, "tokens_per_s": 900.0, "eta_s": 60.0, "memory_gib": 3.5},
    ),
    ("NaN loss", start(loss=2.0), "StepLogged", {**STEP, "loss": math.nan}, {"loss": None}),
    ("replayed NaN", start(loss=2.0), "StepLogged", {**STEP, "loss": None}, {"loss": None}),
    (
        "eval",
        start(),
        "EvalCompleted",
        {"model": "grown", "metrics": {"eval_perplexity": 7.5}},
        {"eval_perplexity": 7.5},
    ),
    (
        "eval w/o ppl",
        start(eval_perplexity=7.5),
        "EvalCompleted",
        {"model": "grown", "metrics": {}},
        {"eval_perplexity": 7.5},
    ),
    ("checkpoint", start(), "CheckpointSaved", {"path": "ck/10"}, {"last_checkpoint": "ck/10"}),
    (
        "trip",
        start(),
        "BreakerTripped",
        {"trigger": "nan_inf", "action": "rollback", "reason": "NaN", "previous_state": "closed"},
        {"breaker": "open", "breaker_reason": "NaN"},
    ),
    (
        "warn",
        start(),
        "BreakerWarned",
        {"trigger": "loss_spike", "reason": "r", "state": "closed"},
        {"breaker": "closed"},
    ),
    (
        "probation",
        start(breaker="open"),
        "BreakerProbationStarted",
        {"resumed_step": 5, "until_step": 25, "reason": "r"},
        {"breaker": "half_open"},
    ),
    (
        "recovered",
        start(breaker="half_open", breaker_reason="NaN"),
        "BreakerRecovered",
        {"reason": "ok", "probation_steps": 20},
        {"breaker": "closed", "breaker_reason": "NaN"},
    ),
    ("alert", start(), "AlertRaised", ALERT, {"alert": SHOWN}),
    (
        "alert cleared",
        start(alert=SHOWN),
        "AlertCleared",
        {"alert_id": "a1", "reason": "finished"},
        {"alert": None},
    ),
    (
        "another cleared",
        start(alert=SHOWN),
        "AlertCleared",
        {"alert_id": "zz", "reason": "finished"},
        {"alert": SHOWN},
    ),
    (
        "approval",
        start(),
        "ApprovalRequested",
        {"point": "export", "timeout_s": 90.0},
        {
            "status": "awaiting_approval",
            "approval": {"point": "export", "deadline": T0 + timedelta(seconds=90)},
        },
    ),
    (
        "decided",
        start(status="awaiting_approval", approval={"point": "export", "deadline": T0}),
        "ApprovalDecided",
        {"point": "export", "decision": "approve", "by": "user"},
        {"status": "running", "approval": None},
    ),
    (
        "paused",
        start(),
        "RunPaused",
        {"step": 10, "checkpoint": "ck/10"},
        {"status": "paused", "last_checkpoint": "ck/10"},
    ),
    (
        "rolled back",
        start(),
        "RolledBack",
        {"checkpoint": "ck/5", "set_aside": "x"},
        {"status": "rolled_back", "last_checkpoint": "ck/5"},
    ),
    (
        "finished",
        start(eta_s=3.0),
        "RunFinished",
        {"status": "completed", "artifact_dir": "/r", "duration_s": 1.0},
        {"status": "completed", "eta_s": 0.0},
    ),
    ("failed", start(), "RunFailed", {"phase": "train", "error": "boom"}, {"status": "failed"}),
    (
        "sink trouble",
        start(),
        "SinkDegraded",
        {"sink": "http", "errors": 3, "dropped": 0, "last_error": "down"},
        {"sinks": {"http": {"errors": 3, "dropped": 0, "last_error": "down"}}},
    ),
    (
        "unrelated",
        start(loss=1.0),
        "ContractChecked",
        {"name": "c", "passed": True, "detail": ""},
        {"loss": 1.0},
    ),
]


@pytest.mark.parametrize(
    ("before", "kind", "data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fold(
    before: CockpitSnapshot, kind: str, data: dict[str, Any], expected: dict[str, Any]
) -> None:
    event = at(before, kind, data, step=12, segment=1)
    after = fold(before, event)
    dumped = after.model_dump()
    assert {k: dumped[k] for k in expected} == expected
    assert (after.step, after.segment, after.last_seq, after.updated_at) == (12, 1, event.seq, T0)
    assert validate_snapshot(after.model_dump(mode="json")).snapshot == after  # publishable
    assert before.last_seq == -1 and before.step == 0  # the input is left untouched


def test_an_event_already_folded_or_of_another_run_changes_nothing() -> None:
    snapshot = fold(start(), at(start(), "PhaseStarted", {"phase": "train"}))
    again = at(start(), "PhaseStarted", {"phase": "export"})  # seq 0 again: a resent event
    assert fold(snapshot, again) is snapshot
    stranger = at(snapshot, "PhaseStarted", {"phase": "export"}).model_copy(update={"run_id": "x"})
    assert fold(snapshot, stranger) is snapshot


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tokens_per_s": -5.0}, "tokens_per_s"),
        ({"loss": "NaN"}, "loss"),
        ({"status": "exploded"}, "status"),
        ({"surprise": 1}, "surprise"),
        ({"run_id": ""}, "run_id"),
        ({"sinks": {"http": {"errors": -1, "dropped": 0}}}, "sinks.http.errors"),
    ],
)
def test_an_invalid_payload_is_rejected_with_a_reason(change: dict[str, Any], reason: str) -> None:
    import jsonschema

    payload = {**start().model_dump(mode="json"), **change}
    check = validate_snapshot(payload)
    assert check.snapshot is None and reason in check.reason
    # The published schema says the same, for a client that validates on its own side.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(json.dumps(payload)), json.loads(SCHEMA.read_text()))


def test_a_valid_snapshot_passes_the_published_schema() -> None:
    import jsonschema

    snapshot = start()
    for _, _, kind, data, _ in CASES:  # one run through every case, in order
        snapshot = fold(snapshot, at(snapshot, kind, data))
    jsonschema.validate(snapshot.model_dump(mode="json"), json.loads(SCHEMA.read_text()))


def test_the_publisher_counts_rejected_snapshots_and_never_publishes_them() -> None:
    published: list[CockpitSnapshot] = []
    publisher = SnapshotPublisher("run-1", published.append)
    publisher.handle(at(publisher.snapshot, "PhaseStarted", {"phase": "train"}))
    # A replayed log can carry what no emitted payload could: a negative speed, a bad count.
    publisher.handle(at(publisher.snapshot, "StepLogged", {**STEP, "tokens_per_s": -1.0}))
    publisher.handle(
        at(publisher.snapshot, "SinkDegraded", {"sink": "h", "errors": -2, "dropped": 0})
    )
    assert [s.phase for s in published] == ["train"] and publisher.snapshot == published[-1]
    assert publisher.rejected == 2 and "errors" in publisher.last_rejection
    assert publisher.health().errors == 2  # so the bus reports it like any failing sink
