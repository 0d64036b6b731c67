"""Approval gates: the run waits, continues on approve, stops cleanly on deny or timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_pipeline import write_data
from typer.testing import CliRunner

from scaler_wizard.cli import app


def start(model_dir: Path, data: Path, home: Path, timeout_s: float) -> subprocess.Popen[bytes]:
    args = ["grow", "tiny-cpu", "--quiet"]
    for item in (
        f"model.source={model_dir}",
        f"data.train={data}",
        "evaluate.passkey=null",
        "gates.approve_before=[export]",
        f"gates.timeout_s={timeout_s}",
    ):
        args += ["--set", item]
    env = {**os.environ, "SCALER_WIZARD_HOME": str(home)}
    code = "from scaler_wizard.cli import app; app()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_until_waiting(home: Path, process: subprocess.Popen[bytes]) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for manifest in home.glob("runs/*/manifest.json"):
            if json.loads(manifest.read_text()).get("status") == "awaiting_approval":
                return manifest.parent
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        time.sleep(0.05)
    raise AssertionError("the run never waited for approval")


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_run_waits_then_follows_the_decision(
    decision: str, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    process = start(tiny_model_dir, write_data(tmp_path / "d.jsonl"), home, timeout_s=120)
    run = wait_until_waiting(home, process)
    assert not (run / "model").exists()  # nothing exported while waiting
    monkeypatch.setenv("SCALER_WIZARD_HOME", str(home))
    result = CliRunner().invoke(app, [decision, run.name, "--note", "checked the numbers"])
    assert result.exit_code == 0, result.output
    output = process.communicate(timeout=120)[0].decode()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["approvals"][0]["decision"] == decision
    assert manifest["approvals"][0]["note"] == "checked the numbers"
    if decision == "approve":
        assert process.returncode == 0, output
        assert manifest["status"] == "completed" and (run / "model").is_dir()
    else:
        assert process.returncode == 1 and "not approved" in output
        assert manifest["status"] == "aborted" and not (run / "model").exists()


def test_no_decision_before_the_timeout_is_a_denial(tmp_path: Path, tiny_model_dir: Path) -> None:
    home = tmp_path / "home"
    process = start(tiny_model_dir, write_data(tmp_path / "d.jsonl"), home, timeout_s=0.5)
    output = process.communicate(timeout=120)[0].decode()
    run = next((home / "runs").iterdir())
    manifest = json.loads((run / "manifest.json").read_text())
    assert process.returncode == 1, output
    assert manifest["status"] == "aborted" and manifest["approvals"][0]["by"] == "timeout"


def test_deciding_for_a_run_that_is_not_waiting(isolated_home: Path) -> None:
    (isolated_home / "runs" / "20260101-000000-x-abcd").mkdir(parents=True)
    result = CliRunner().invoke(app, ["approve", "abcd"])
    assert result.exit_code == 2 and "not waiting for approval" in result.output


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_breaker_trip_waits_for_a_person(
    decision: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    isolated_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A NaN pauses training; with `approve_before: [breaker]` the run waits instead of exiting,
    continues from the pause checkpoint on approve and ends aborted on deny."""
    from test_pipeline import grow

    from fault_injection import inject
    from scaler_wizard.artifacts.run_folder import find_run
    from scaler_wizard.pipeline.gates import decide

    inject(monkeypatch, {5}, float("nan"))
    outcome: dict[str, tuple[int, str]] = {}
    overrides = [
        "context.scale=null",
        "train.steps=8",
        "train.log_every=1",
        "train.checkpoint_every=2",
        "safety.on_nan=pause",
        "gates.approve_before=[breaker]",
        "gates.timeout_s=120",
    ]
    data = write_data(tmp_path / "d.jsonl")
    worker = threading.Thread(
        target=lambda: outcome.update(result=grow(tmp_path, tiny_model_dir, data, *overrides))
    )
    worker.start()
    deadline = time.monotonic() + 120
    waiting = None
    while waiting is None and time.monotonic() < deadline and worker.is_alive():
        waiting = next(iter(isolated_home.glob("runs/*/approval.json")), None)
        time.sleep(0.05)
    assert waiting is not None, outcome
    assert decide(find_run(waiting.parent.name), decision, "looked at it") == "breaker"  # type: ignore[arg-type]
    worker.join(timeout=120)
    code, output = outcome["result"]
    manifest = json.loads((waiting.parent / "manifest.json").read_text())
    assert manifest["approvals"][0]["point"] == "breaker"
    events = [
        json.loads(line) for line in (waiting.parent / "events.jsonl").read_text().splitlines()
    ]
    trips = [e for e in events if e["type"] == "BreakerTripped"]
    assert len(trips) == 1 and trips[0]["data"]["action"] == "pause"
    if decision == "approve":
        assert code == 0, output
        assert manifest["status"] == "completed"
        steps = [e["step"] for e in events if e["type"] == "StepLogged"]
        assert steps[-1] == 8  # training went on from the pause checkpoint to the end
    else:
        assert code != 0 and manifest["status"] == "aborted"
