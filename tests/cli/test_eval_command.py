"""`scaler-wizard eval` measures any model folder or a run's merged model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scaler_wizard.cli import app

runner = CliRunner()


def test_eval_reports_loss_and_passkey(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = tmp_path / "held.jsonl"
    rows = [{"text": f"The sky is blue. The grass is green. Line {i}."} for i in range(8)]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = runner.invoke(
        app,
        [
            "eval",
            str(tiny_model_dir),
            "--data",
            str(data),
            "--records",
            "4",
            "--passkey-length",
            "128",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["eval_loss"] > 0 and metrics["eval_perplexity"] > 1
    assert set(metrics["passkey"]) == {"128"}


def test_eval_needs_something_to_measure(tiny_model_dir: Path) -> None:
    result = runner.invoke(app, ["eval", str(tiny_model_dir)])
    assert result.exit_code == 2 and "--data" in result.output


def test_eval_unknown_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "no-such-run", "--passkey-length", "64"])
    assert result.exit_code == 2 and "no single run matches" in result.output
