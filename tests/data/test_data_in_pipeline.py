"""The grow pipeline hands its loaded base model to self-instruct, and the data report shows
the synthetic data and the labeling functions of the run."""

from __future__ import annotations

import json
from pathlib import Path

from data_helpers import chat, write_jsonl
from typer.testing import CliRunner

from scaler_wizard.cli import app
from tiny_models import long_document


def test_a_run_generates_with_its_base_model(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    records = [
        chat(f"What does `json.dumps` do? ({i})", "Serialize obj to JSON.") for i in range(30)
    ]
    data = write_jsonl(tmp_path, records)
    synthetic = (
        "{self_instruct: {count: 2, max_attempts: 2, max_new_tokens: 8}, long_context: "
        f"{{documents: [{long_document('gpl-3.0.txt')}], samples_per_length: 2, "
        "kinds: [retrieval]}}"
    )
    transforms = "[{name: label_functions, options: {functions: [refusal, short_answer]}}]"
    settings = [
        f"model.source={tiny_model_dir}",
        f"data.train={data}",
        "data.seq_length=256",
        "train.steps=2",
        f"data.synthetic={synthetic}",
        f"data.transforms={transforms}",
    ]
    result = CliRunner().invoke(
        app, ["grow", "tiny-cpu", "--quiet", *(x for s in settings for x in ("--set", s))]
    )
    assert result.exit_code == 0, result.output
    (run,) = [p for p in (isolated_home / "runs").iterdir() if p.is_dir()]
    report = json.loads((run / "data" / "data_report.json").read_text())
    made = report["synthetic"]["self_instruct"]
    assert (made["model"], made["attempts"], made["cached"]) == (f"base:{tiny_model_dir}", 2, False)
    assert report["synthetic"]["long_context"]["lengths"] == {str(report["seq_length"]): 2}
    assert report["transforms"][0]["details"]["label_functions"][1]["name"] == "short_answer"
    markdown = (run / "data" / "data_report.md").read_text()
    assert "## Synthetic: self-instruct" in markdown and "### Labeling functions" in markdown


def test_a_run_trains_on_streamed_rows_kept_in_the_cache(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    records = [chat(f"Name a colour ({i}).", f"Colour number {i} is blue.") for i in range(240)]
    data = write_jsonl(tmp_path, records)
    settings = [
        f"model.source={tiny_model_dir}",
        f"data.train={data}",
        "data.seq_length=128",
        "data.streaming={shard_records: 100}",
        "data.max_records=220",
        "data.transforms=[{name: dedup_exact}]",
        "train.steps=3",
    ]
    argv = ["grow", "tiny-cpu", "--quiet", *(x for s in settings for x in ("--set", s))]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    (run,) = [p for p in (isolated_home / "runs").iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    cached = list((isolated_home / "data-cache").iterdir())
    assert [p.name for p in cached] == [manifest["data"]["fingerprint"]]
    report = json.loads((run / "data" / "data_report.json").read_text())
    assert report["streaming"]["shards"] == 3
    assert report["streaming"]["rows_folder"] == str(cached[0])
    assert "## Streaming" in (run / "data" / "data_report.md").read_text()
