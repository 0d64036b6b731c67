"""Rollback: back to a checkpoint, later work set aside (never deleted), then continue."""

from __future__ import annotations

import json
from pathlib import Path

from test_pipeline import grow, only_run, write_data
from typer.testing import CliRunner

from scaler_wizard.cli import app
from scaler_wizard.telemetry.jsonl_sink import read_events
from scaler_wizard.telemetry.validate import validate_event_log


def test_rollback_sets_work_aside_and_resume_completes_again(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    code, output = grow(
        tmp_path,
        tiny_model_dir,
        write_data(tmp_path / "d.jsonl"),
        "train.checkpoint_every=1",
        "evaluate.passkey=null",
    )
    assert code == 0, output
    run = only_run(isolated_home)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-000001",
        "step-000002",
        "step-000003",
    ]
    result = CliRunner().invoke(
        app, ["rollback", run.name, "--to", "step-000001", "--resume", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["resumed_from"] == "step-000001"
    record = manifest["rollbacks"][0]
    assert record["to"] == "step-000001" and record["from_status"] == "completed"
    aside = Path(record["set_aside"])
    assert (aside / "checkpoints" / "step-000003").is_dir()  # kept, not deleted
    assert (aside / "model").is_dir() and (run / "model").is_dir()  # old and new exports
    events = read_events(run / "events.jsonl")
    rolled = next(e for e in events if e.type == "RolledBack")
    assert rolled.step == 1  # training continues from the checkpoint's step
    assert all(e.segment == 1 for e in events if e.seq > rolled.seq)
    assert validate_event_log(run / "events.jsonl").ok


def test_rollback_to_an_unknown_checkpoint_lists_the_real_ones(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    code, _ = grow(
        tmp_path,
        tiny_model_dir,
        write_data(tmp_path / "d.jsonl"),
        "train.checkpoint_every=2",
        "evaluate.passkey=null",
    )
    assert code == 0
    run = only_run(isolated_home)
    result = CliRunner().invoke(app, ["rollback", run.name, "--to", "step-000099"])
    assert result.exit_code == 2 and "step-000002" in result.output
