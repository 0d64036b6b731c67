"""The published event schema describes every payload, and agrees with `events validate`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scaler_wizard.telemetry import events as ev
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.jsonl_sink import JsonlSink
from scaler_wizard.telemetry.validate import validate_event_log

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "event.schema.json").read_text()
)
STEP = {
    "loss": 2.0,
    "grad_norm": 1.0,
    "learning_rate": 1e-4,
    "tokens_per_s": 10.0,
    "memory_gib": 1.0,
    "eta_s": 3.0,
    "label_tokens": 5,
}
# One valid payload per type: a new payload type fails the first test until it has a sample.
SAMPLES: dict[str, ev.Payload] = {
    p.__class__.__name__: p
    for p in [
        ev.RunStarted(recipe_name="r", run_dir="/runs/r"),
        ev.PhaseStarted(phase="train"),
        ev.ProgressUpdated(task="train", done=1, total=2),
        ev.PhaseFinished(phase="train", duration_s=1.0, summary={"loss": 1.0}),
        ev.StepLogged(**STEP),
        ev.EvalCompleted(model="grown", metrics={"eval_perplexity": 3.0}),
        ev.CheckpointSaved(path="ck/1"),
        ev.ContractChecked(name="c", passed=True, detail="ok"),
        ev.ArtifactExported(path="/a", kind="adapter"),
        ev.RunFinished(status="completed", artifact_dir="/a", duration_s=3.0),
        ev.ApprovalRequested(point="export", timeout_s=60),
        ev.ApprovalDecided(point="export", decision="approve", by="user"),
        ev.RolledBack(checkpoint="ck/1", set_aside="rolled_back/1"),
        ev.RunPaused(step=3, checkpoint="ck/3"),
        ev.RunFailed(phase="train", error="boom"),
        ev.BreakerWarned(trigger="loss_spike", reason="r", state="closed"),
        ev.BreakerTripped(
            trigger="nan_inf", action="pause", reason="r", numbers={"loss": "nan"},
            previous_state="closed",
        ),
        ev.BreakerProbationStarted(resumed_step=1, until_step=9, reason="r"),
        ev.BreakerRecovered(reason="r", probation_steps=8),
        ev.AlertRaised(alert_id="a", priority="caution", title="t", message="m", rule="r"),
        ev.AlertCleared(alert_id="a", reason="finished"),
        ev.SinkDegraded(sink="http", errors=1, dropped=2, last_error="down"),
    ]
}  # fmt: skip


def envelope(kind: str, data: dict[str, Any], seq: int = 0) -> dict[str, Any]:
    return {
        "id": f"e{seq}", "type": kind, "time": "2026-01-01T00:00:00Z", "run_id": "r",
        "seq": seq, "step": 0, "segment": 0, "data": data,
    }  # fmt: skip


def valid(event: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(SCHEMA).is_valid(event)


def test_every_payload_type_has_a_branch_and_a_sample() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    published = list(ev.published_payload_types())
    assert SCHEMA["properties"]["type"]["enum"] == published
    assert [b["properties"]["type"]["const"] for b in SCHEMA["oneOf"]] == published
    assert sorted(SAMPLES) == sorted(published)


def test_real_events_of_every_type_pass_the_schema_and_the_validator(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    bus = EventBus("run-1", [JsonlSink(log)])
    for payload in SAMPLES.values():
        bus.emit(payload)
    bus.close()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == len(SAMPLES) and all(valid(line) for line in lines)
    assert validate_event_log(log).ok


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("StepLogged", {k: v for k, v in STEP.items() if k != "loss"}),  # missing field
        ("RunStarted", {"recipe_name": "r", "run_dir": "/r", "extra": 1}),  # unknown field
        ("PhaseStarted", {"phase": "lunch"}),  # not a phase
        ("SinkDegraded", {"sink": "h", "errors": -1, "dropped": 0}),  # negative count
        ("Exploded", {}),  # not an event type
    ],
)
def test_a_wrong_payload_fails_both_the_schema_and_the_validator(
    tmp_path: Path, kind: str, data: dict[str, Any]
) -> None:
    event = envelope(kind, data)
    assert not valid(event)
    log = tmp_path / "events.jsonl"
    log.write_text(json.dumps(event) + "\n")
    check = validate_event_log(log)
    assert not check.ok and check.problems[0].startswith("line 1:")


def test_a_step_that_went_nan_is_written_as_null_and_still_valid(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    bus = EventBus("run-1", [JsonlSink(log)])
    bus.emit(ev.StepLogged(**{**STEP, "loss": math.nan, "grad_norm": math.inf}))
    bus.close()
    line = json.loads(log.read_text())
    assert line["data"]["loss"] is None and line["data"]["grad_norm"] is None
    assert valid(line) and validate_event_log(log).ok
