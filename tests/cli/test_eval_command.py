"""`scaler-wizard eval` measures any model folder or a run's merged model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scaler_wizard.cli import app
from tiny_models import long_document

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


LONGDOC = long_document("gpl-3.0.txt")


def test_eval_writes_long_context_files(tmp_path: Path, tiny_model_dir: Path) -> None:
    out_dir = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "eval", str(tiny_model_dir), "--long-doc", str(LONGDOC), "--max-length", "200",
            "--bucket-size", "64", "--needle-lengths", "224,256", "--needle-depths", "0,100",
            "--out", str(out_dir),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "long_ppl.json",
        "needle.json",
        "needle_heatmap.png",
    ]
    assert sorted(metrics["files"]) == sorted(str(p) for p in out_dir.iterdir())
    long_ppl = json.loads((out_dir / "long_ppl.json").read_text())
    assert long_ppl["perplexity"] == metrics["long_ppl"]["perplexity"] > 1
    assert list(metrics["long_ppl"]["truncated_perplexity"]) == ["64", "128", "192", "200"]
    needle = json.loads((out_dir / "needle.json").read_text())
    assert needle["lengths"] == [224, 256] and needle["depths"] == [0.0, 1.0]
    assert set(metrics["needle"]["by_length"]["224"]) == {"0%", "100%"}
    assert (out_dir / "needle_heatmap.png").read_bytes().startswith(b"\x89PNG")
    assert "truncated PPL" in result.stderr  # the bucket table, kept off the JSON on stdout


def test_eval_of_a_run_writes_into_its_eval_folder(
    isolated_home: Path, tiny_model_dir: Path
) -> None:
    run = isolated_home / "runs" / "20250101-000000-tiny"
    run.mkdir(parents=True)
    (run / "model").symlink_to(tiny_model_dir, target_is_directory=True)
    result = runner.invoke(
        app, ["eval", "tiny", "--long-doc", str(LONGDOC), "--max-length", "100", "--stride", "50"]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "eval" / "long_ppl.json").read_text())
    assert saved["mode"] == "sliding_window" and saved["window"] == 100
    assert not (run / "eval" / "needle.json").exists()


def test_eval_rejects_bad_needle_depths(tiny_model_dir: Path) -> None:
    result = runner.invoke(app, ["eval", str(tiny_model_dir), "--needle-lengths", "256",
                                 "--needle-depths", "0,150"])  # fmt: skip
    assert result.exit_code == 2 and "percentages" in result.output
