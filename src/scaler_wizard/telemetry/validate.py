"""Check a JSONL event log against the published event schema and the envelope's rules."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from scaler_wizard.telemetry.events import Event, Payload, payload_types


@dataclass
class LogCheck:
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_event_log(path: Path) -> LogCheck:
    """Every line is a valid Event whose `data` is a valid payload of its `type`; `seq` starts
    at 0 and grows by one; `segment` never shrinks."""
    check = LogCheck()
    payloads = payload_types()
    expected_seq, segment = 0, 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = Event.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                check.problems.append(f"line {number}: {str(exc).splitlines()[0]}")
                continue
            except ValidationError as exc:
                check.problems.append(f"line {number}: {_errors(exc.errors())}")
                continue
            check.events += 1
            problem = _payload_problem(event, payloads)
            if problem:
                check.problems.append(f"line {number}: {problem}")
            if event.seq != expected_seq:
                check.problems.append(f"line {number}: seq {event.seq}, expected {expected_seq}")
            if event.segment < segment:
                check.problems.append(f"line {number}: segment went back to {event.segment}")
            expected_seq, segment = event.seq + 1, max(segment, event.segment)
    return check


def _payload_problem(event: Event, payloads: dict[str, type[Payload]]) -> str:
    payload = payloads.get(event.type)
    if payload is None:
        return f"unknown event type {event.type!r}"
    try:
        payload.model_validate(event.data)
    except ValidationError as exc:
        # JSON has no NaN: a non-finite float was written as null, which the schema allows.
        errors = [e for e in exc.errors() if not (e["type"] == "float_type" and e["input"] is None)]
        if errors:
            return f"{event.type}: {_errors(errors, prefix='data.')}"
    return ""


def _errors(errors: Sequence[ErrorDetails], prefix: str = "") -> str:
    return "; ".join(f"{prefix}{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
