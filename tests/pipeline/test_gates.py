"""Approval gates: the run waits, continues on approve, stops cleanly on deny or timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
