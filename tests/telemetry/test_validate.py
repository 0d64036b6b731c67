"""`scaler-wizard events validate` checks logs against the schema and the envelope rules."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scaler_wizard.cli import app
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import PhaseStarted
from scaler_wizard.telemetry.jsonl_sink import JsonlSink
from scaler_wizard.telemetry.validate import validate_event_log


def write_log(path: Path, n: int = 4) -> Path:
    bus = EventBus("run-1", [JsonlSink(path)])
    for _ in range(n):
        bus.emit(PhaseStarted(phase="train"))
    bus.close()
    return path


def test_a_real_log_is_valid(tmp_path: Path) -> None:
    check = validate_event_log(write_log(tmp_path / "events.jsonl"))
    assert check.ok and check.events == 4
    result = CliRunner().invoke(app, ["events", "validate", str(tmp_path / "events.jsonl")])
    assert result.exit_code == 0 and "4 events, valid" in " ".join(result.output.split())


def test_gaps_bad_lines_and_extra_fields_are_reported_by_line(tmp_path: Path) -> None:
    path = write_log(tmp_path / "events.jsonl")
    lines = path.read_text().splitlines()
    broken = json.loads(lines[1])
    broken["surprise"] = 1
    lines[1] = json.dumps(broken)
    del lines[2]  # a gap in seq
    lines.append("{not json")
    path.write_text("\n".join(lines) + "\n")
    check = validate_event_log(path)
    assert any(p.startswith("line 2:") for p in check.problems)
    assert any("expected" in p for p in check.problems)
    assert any(p.startswith("line 4:") for p in check.problems)
    result = CliRunner().invoke(app, ["events", "validate", str(path)])
    assert result.exit_code == 1


def test_repair_drops_a_half_written_last_line(tmp_path: Path) -> None:
    from scaler_wizard.telemetry.jsonl_sink import repair_event_log

    path = write_log(tmp_path / "events.jsonl", n=3)
    with path.open("a") as f:
        f.write('{"id": "x", "type": "Phase')  # killed mid-write
    assert repair_event_log(path) == (3, 0)
    assert validate_event_log(path).ok and validate_event_log(path).events == 3
    assert repair_event_log(tmp_path / "missing.jsonl") == (0, 0)
