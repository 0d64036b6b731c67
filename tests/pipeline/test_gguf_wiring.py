"""GGUF in a run: written after the merged model, recorded, announced, and re-exportable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from scaler_wizard.artifacts.gguf_rope import rope_from_gguf
from scaler_wizard.artifacts.run_folder import RunFolder
from scaler_wizard.cli import app
from scaler_wizard.models.hf_compat import read_rope, write_rope
from scaler_wizard.pipeline.export import export_run_gguf
from scaler_wizard.recipe.spec import GgufSpec
from scaler_wizard.telemetry.jsonl_sink import read_events
from tiny_models import build_tiny_model, write_chat_data

runner = CliRunner()


def test_run_exports_gguf_with_its_yarn_scaling(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    import torch
    from gguf import GGUFReader
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    args = ["grow", "tiny-cpu", "--quiet"]
    for item in (
        f"model.source={tiny_model_dir}",
        f"data.train={write_chat_data(tmp_path / 'd.jsonl', 30)}",
        "context.scale=2",
        "train.steps=2",
        "export.gguf.enabled=true",
        "export.gguf.dtype=f32",
    ):
        args += ["--set", item]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = next(p for p in (isolated_home / "runs").iterdir() if p.is_dir())
    manifest = json.loads((run / "manifest.json").read_text())
    record = manifest["exports"]["gguf"]
    assert record["path"] == str(run / "gguf" / "model.gguf")
    assert record["rope"]["scaling_type"] == "yarn" and record["rope"]["context_length"] == 512
    assert (run / "gguf" / "Modelfile").read_text().count("PARAMETER num_ctx 512") == 1
    assert not list(run.glob(".*partial"))
    events = read_events(run / "events.jsonl")
    assert any(e.type == "ArtifactExported" and e.data["kind"] == "gguf" for e in events)
    progress = [e.data for e in events if e.type == "ProgressUpdated" and e.data["task"] == "gguf"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]

    # The file computes what the merged model computes, beyond the native 256 positions too.
    fields = {k: f.contents() for k, f in GGUFReader(run / "gguf" / "model.gguf").fields.items()}
    config = AutoConfig.from_pretrained(run / "gguf", gguf_file="model.gguf")
    write_rope(config, rope_from_gguf(fields, "llama"), replace=True)
    merged = AutoModelForCausalLM.from_pretrained(run / "model", dtype=torch.float32).eval()
    assert read_rope(config) == read_rope(merged.config)
    back = AutoModelForCausalLM.from_pretrained(
        run / "gguf", gguf_file="model.gguf", config=config, dtype=torch.float32
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    ids = torch.tensor([tokenizer("The sky is blue. " * 60)["input_ids"][:400]])
    with torch.no_grad():
        diff = (merged(ids).logits - back(ids).logits).abs().max()
    assert float(diff) <= 1e-4

    # Re-export from the CLI: the manifest and the model card follow.
    again = runner.invoke(app, ["export", run.name, "--gguf", "--dtype", "bf16"])
    assert again.exit_code == 0, again.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["exports"]["gguf"]["dtype"] == "bf16"
    assert "`gguf/`" in (run / "README.md").read_text()
    assert runner.invoke(app, ["export", run.name]).exit_code == 2
    wrong = runner.invoke(app, ["export", run.name, "--gguf", "--dtype", "q4"])
    assert wrong.exit_code == 2 and "--dtype" in wrong.output


def test_refused_model_is_recorded_not_half_written(tmp_path: Path, tiny_tokenizer: Any) -> None:
    run = RunFolder(tmp_path / "run")
    model = build_tiny_model(tiny_tokenizer)
    write_rope(model.config, {**read_rope(model.config), "rope_type": "dynamic", "factor": 1.0})
    model.save_pretrained(run.model)
    tiny_tokenizer.save_pretrained(run.model)
    result = export_run_gguf(run, GgufSpec(enabled=True), {}, None)
    assert "dynamic NTK" in result["gguf_skipped"]
    assert sorted(p.name for p in run.path.iterdir()) == ["model"]

    missing = export_run_gguf(RunFolder(tmp_path / "empty"), GgufSpec(enabled=True), {}, None)
    assert "no merged model" in missing["gguf_skipped"]
