"""Progressive context stages: each stage plans its own factor, trains, is measured and kept."""

from __future__ import annotations

import json
from pathlib import Path

from test_pipeline import only_run, write_data
from typer.testing import CliRunner

from scaler_wizard.cli import app
from scaler_wizard.telemetry.jsonl_sink import read_events

runner = CliRunner()
STAGES = "[{scale: 1.5, steps: 2, seq_length: 96}, {scale: 2, steps: 3}]"


def grow(model_dir: Path, data: Path, *extra: str) -> tuple[int, str]:
    args = [
        "grow",
        "tiny-cpu",
        "--quiet",
        "--set",
        f"model.source={model_dir}",
        "--set",
        f"data.train={data}",
        "--set",
        f"context.stages={STAGES}",
    ]
    for item in extra:
        args += ["--set", item]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_stages_grow_the_window_step_by_step(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    from transformers import AutoConfig

    code, output = grow(tiny_model_dir, write_data(tmp_path / "d.jsonl"))
    assert code == 0, output
    run = only_run(isolated_home)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    stages = manifest["stages"]
    assert [(s["target_length"], s["factor"], s["steps"]) for s in stages] == [
        (384, 1.5, 2),
        (512, 2.0, 3),
    ]
    assert stages[0]["seq_length"] == 96 and stages[1]["seq_length"] == 128
    assert "passkey" in stages[0]["metrics"]  # measured before the next stage began
    saved = AutoConfig.from_pretrained(stages[0]["model"])
    assert saved.rope_parameters["factor"] == 1.5 and saved.max_position_embeddings == 384
    final = AutoConfig.from_pretrained(run / "model")
    assert final.rope_parameters["factor"] == 2.0  # relative to native, not to stage 1
    assert final.rope_parameters["original_max_position_embeddings"] == 256
    assert final.max_position_embeddings == 512
    started = [
        e.data["description"]
        for e in read_events(run / "events.jsonl")
        if e.type == "PhaseStarted" and e.data["phase"] == "train"
    ]
    assert started == ["stage 1/2: 2 steps", "stage 2/2: 3 steps"]


def test_stages_must_grow_and_refuse_structural_strategies(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    data = write_data(tmp_path / "d.jsonl")
    code, output = grow(
        tiny_model_dir, data, "context.stages=[{scale: 2, steps: 1}, {scale: 1.5, steps: 1}]"
    )
    assert code == 2 and "context.stages[1]" in output and "must exceed" in " ".join(output.split())
    code, output = grow(
        tiny_model_dir, data, "growth=[{strategy: block_expansion, options: {new_blocks: 1}}]"
    )
    assert code == 2 and "context.stages" in output
    code, output = grow(tiny_model_dir, data, "context.scale=2")
    assert code == 2 and "drop target_length/scale" in " ".join(output.split())
