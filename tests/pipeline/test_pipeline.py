"""The whole pipeline on a tiny model: a usable artifact, or a failure never mistaken for one."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scaler_wizard.cli import app
from scaler_wizard.telemetry.jsonl_sink import read_events

runner = CliRunner()
PHASES = ["load", "data", "evaluate", "context", "grow", "train", "evaluate", "contracts", "export"]


def write_data(path: Path, n: int = 30, bad_line: int | None = None) -> Path:
    lines = []
    for i in range(n):
        record = {
            "messages": [
                {"role": "user", "content": f"What does `json.dumps` do? ({i})"},
                {"role": "assistant", "content": "Serialize obj to a JSON formatted str."},
            ]
        }
        lines.append(json.dumps(record))
    if bad_line is not None:
        lines[bad_line - 1] = '{"messages": [oops'
    path.write_text("\n".join(lines) + "\n")
    return path


def grow(tmp_path: Path, model_dir: Path, data: Path, *extra: str) -> tuple[int, str]:
    args = [
        "grow",
        "tiny-cpu",
        "--quiet",
        "--set",
        f"model.source={model_dir}",
        "--set",
        f"data.train={data}",
        "--set",
        "context.scale=2",
        "--set",
        "train.steps=4",
    ]
    for item in extra:
        args += ["--set", item]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def only_run(home: Path) -> Path:
    runs = [p for p in (home / "runs").iterdir() if p.is_dir()]
    assert len(runs) == 1
    return runs[0]


def test_grow_leaves_a_complete_loadable_artifact(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    code, output = grow(
        tmp_path,
        tiny_model_dir,
        write_data(tmp_path / "d.jsonl"),
        "evaluate.context_cost={lengths: [64, 128]}",
    )
    assert code == 0, output
    run = only_run(isolated_home)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["context"]["engine"] == "yarn"
    cost = json.loads((run / "eval" / "context_cost_grown.json").read_text())
    assert [row["length"] for row in cost] == [64, 128]  # for the web app's cost chart
    assert set(manifest["metrics"]["grown"]["context_cost"]) == {"64", "128"}
    for key in ("base_model", "growth", "data", "train", "metrics", "versions"):
        assert manifest[key], key
    assert manifest["data"]["fingerprint"]
    assert manifest["exports"]["merge_max_logit_diff"] < 1e-4

    config = AutoConfig.from_pretrained(run / "model")
    assert config.rope_parameters["rope_type"] == "yarn"
    assert config.rope_parameters["factor"] == 2.0
    assert config.rope_parameters["rope_theta"] == 10000.0
    assert config.max_position_embeddings == 512
    model = AutoModelForCausalLM.from_pretrained(run / "model")
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    out = model.generate(
        **tokenizer("The sky is", return_tensors="pt"), max_new_tokens=3, do_sample=False
    )
    assert out.shape[1] > 3
    assert (run / "adapter" / "adapter_config.json").is_file()
    assert (run / "README.md").read_text().startswith("---")
    assert (run / "plots" / "loss.png").stat().st_size > 1000
    assert (run / "recipe.yaml").is_file()

    events = read_events(run / "events.jsonl")
    assert [e.seq for e in events] == list(range(len(events)))
    started = [e.data["phase"] for e in events if e.type == "PhaseStarted"]
    assert started == PHASES
    assert events[-1].type == "RunFinished"  # nothing, not even an alert, after the end
    assert torch.isfinite(torch.tensor(manifest["metrics"]["grown"]["eval_loss"]))

    listed = runner.invoke(app, ["runs", "list"])
    assert run.name in listed.output and "completed" in listed.output
    shown = runner.invoke(app, ["runs", "show", run.name[-4:]])
    assert "merged model" in shown.output


def test_bad_jsonl_line_fails_clearly_and_leaves_no_complete_artifact(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    code, output = grow(tmp_path, tiny_model_dir, write_data(tmp_path / "d.jsonl", bad_line=7))
    assert code == 2, output
    text = " ".join(output.split())
    assert "line 7" in text and "Traceback" not in output
    run = only_run(isolated_home)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and manifest["failed_phase"] == "data"
    assert not (run / "model").exists() and not (run / "README.md").exists()
    assert read_events(run / "events.jsonl")[-1].type == "RunFailed"


def test_broken_contract_blocks_export(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    code, output = grow(
        tmp_path,
        tiny_model_dir,
        write_data(tmp_path / "d.jsonl"),
        "contracts.min_passkey_accuracy=1.0",
    )
    assert code == 1, output
    assert "passkey" in output
    run = only_run(isolated_home)
    assert json.loads((run / "manifest.json").read_text())["status"] == "failed"
    assert not (run / "model").exists()


def test_long_context_evaluation_in_a_run(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("The grass is green. The sky is blue. Here we go. " * 80)
    code, output = grow(
        tmp_path,
        tiny_model_dir,
        write_data(tmp_path / "d.jsonl"),
        "evaluate.passkey=null",
        f"evaluate.long_ppl={{documents: [{doc}], bucket_size: 128}}",
        "evaluate.needle={lengths: [200], depths: [0.5]}",
    )
    assert code == 0, output
    run = only_run(isolated_home)
    metrics = json.loads((run / "manifest.json").read_text())["metrics"]
    for which in ("base", "grown"):
        assert set(metrics[which]["long_ppl"]["truncated_perplexity"]) == {
            "128",
            "256",
            "384",
            "512",
        }
        needle = metrics[which]["needle"]
        assert list(needle) == ["200"] and list(needle["200"]) == ["50%"]
        assert 0.0 <= needle["200"]["50%"] <= 1.0
        assert (run / "eval" / f"long_ppl_{which}.json").is_file()
        assert (run / "eval" / f"needle_{which}.png").stat().st_size > 1000


def test_every_run_log_validates(tmp_path: Path, tiny_model_dir: Path, isolated_home: Path) -> None:
    from scaler_wizard.telemetry.validate import validate_event_log

    code, output = grow(tmp_path, tiny_model_dir, write_data(tmp_path / "d.jsonl"))
    assert code == 0, output
    check = validate_event_log(only_run(isolated_home) / "events.jsonl")
    assert check.ok, check.problems
