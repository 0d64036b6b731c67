"""Check a JSONL event log against the published event schema and the envelope's rules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from scaler_wizard.telemetry.events import Event


@dataclass
class LogCheck:
    events: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_event_log(path: Path) -> LogCheck:
    """Every line is a valid Event; `seq` starts at 0 and grows by one; `segment` never shrinks."""
    check = LogCheck()
    expected_seq, segment = 0, 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = Event.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as exc:
                first = (
                    str(exc).splitlines()[0]
                    if isinstance(exc, json.JSONDecodeError)
                    else (
                        "; ".join(
                            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                        )
                    )
                )
                check.problems.append(f"line {number}: {first}")
                continue
            check.events += 1
            if event.seq != expected_seq:
                check.problems.append(f"line {number}: seq {event.seq}, expected {expected_seq}")
            if event.segment < segment:
                check.problems.append(f"line {number}: segment went back to {event.segment}")
            expected_seq, segment = event.seq + 1, max(segment, event.segment)
    return check
