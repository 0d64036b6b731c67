"""Never lose work: a killed or paused run resumes to the same weights as an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from scaler_wizard.cli import app
from scaler_wizard.telemetry.jsonl_sink import read_events

STEPS = 12


def write_data(path: Path) -> Path:
    rows = []
    for i in range(40):
        rows.append(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"What does `json.dumps` do? ({i})"},
                        {
                            "role": "assistant",
                            "content": "Serialize obj to a JSON formatted str. " * (1 + i % 3),
                        },
                    ]
                }
            )
        )
    path.write_text("\n".join(rows) + "\n")
    return path


def grow_args(model_dir: Path, data: Path) -> list[str]:
    args = ["grow", "tiny-cpu", "--quiet"]
    for item in (
        f"model.source={model_dir}",
        f"data.train={data}",
        f"train.steps={STEPS}",
        "train.checkpoint_every=1",
        "evaluate.passkey=null",
        "growth.0.options.dropout=0.1",
    ):
        args += ["--set", item]
    return args


def start(args: list[str], home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SCALER_WIZARD_HOME": str(home)}
    code = "from scaler_wizard.cli import app; app()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for_checkpoint(home: Path, process: subprocess.Popen[bytes], step: int) -> Path:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(home.glob(f"runs/*/checkpoints/step-{step:06d}"))
        if found:
            return found[0].parents[1]
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        time.sleep(0.005)
    raise AssertionError("no checkpoint appeared")


def adapter_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "adapter" / "adapter_model.safetensors"))


@pytest.fixture()
def reference(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "reference-home"
    monkeypatch.setenv("SCALER_WIZARD_HOME", str(home))
    data = write_data(tmp_path / "d.jsonl")
    result = CliRunner().invoke(app, grow_args(tiny_model_dir, data))
    assert result.exit_code == 0, result.output
    return next((home / "runs").iterdir())


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_run_resumes_to_the_same_weights(
    how: signal.Signals,
    reference: Path,
    tmp_path: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "interrupted-home"
    data = tmp_path / "d.jsonl"
    process = start(grow_args(tiny_model_dir, data), home)
    run = wait_for_checkpoint(home, process, 3)
    process.send_signal(how)
    output = process.communicate(timeout=120)[0].decode()
    manifest = json.loads((run / "manifest.json").read_text())
    if how == signal.SIGTERM:
        assert process.returncode == 3, output
        assert manifest["status"] == "paused" and "--resume" in output
    else:
        assert process.returncode == -signal.SIGKILL
        assert manifest["status"] == "running"  # killed: nothing claims completion
    assert not (run / "model").exists()

    monkeypatch.setenv("SCALER_WIZARD_HOME", str(home))
    resumed = CliRunner().invoke(app, ["grow", "--quiet", "--resume", run.name])
    assert resumed.exit_code == 0, resumed.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["resumed_from"].startswith("step-")

    expected, got = adapter_weights(reference), adapter_weights(run)
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        assert torch.allclose(value, got[name], atol=1e-6), name
    events = read_events(run / "events.jsonl")
    assert [e.seq for e in events] == sorted({e.seq for e in events})  # strictly increasing


def test_resume_refuses_completed_and_unknown_runs(reference: Path) -> None:
    done = CliRunner().invoke(app, ["grow", "--resume", reference.name])
    assert done.exit_code == 2 and "already completed" in done.output
    missing = CliRunner().invoke(app, ["grow", "--resume", "no-such-run"])
    assert missing.exit_code == 2 and "no single run matches" in missing.output
    both = CliRunner().invoke(app, ["grow", "tiny-cpu", "--resume", reference.name])
    assert both.exit_code == 2 and "not both" in both.output


def test_resume_refuses_another_process_count_and_changes_nothing(reference: Path) -> None:
    """A run trained on two processes resumes on two: one process would take another batch."""
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["train"]["processes"] == 1
    manifest.update(status="paused")
    manifest["train"]["processes"] = 2
    (reference / "manifest.json").write_text(json.dumps(manifest))
    before = (reference / "manifest.json").read_bytes()
    refused = CliRunner().invoke(app, ["grow", "--resume", reference.name])
    assert refused.exit_code == 2, refused.output
    assert "trained on 2 process(es)" in refused.output
    assert "torchrun --nproc_per_node 2" in refused.output
    assert (reference / "manifest.json").read_bytes() == before
