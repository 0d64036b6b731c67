"""The command line: fast help, templates, and clear errors for bad input (no tracebacks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaler_wizard.cli import app

runner = CliRunner()


def write_messages(path: Path, n: int = 12) -> Path:
    with path.open("w") as f:
        for i in range(n):
            record = {
                "messages": [
                    {"role": "user", "content": f"What does `json.dumps` do, case {i}?"},
                    {"role": "assistant", "content": "Serialize obj to a JSON formatted str."},
                ]
            }
            f.write(json.dumps(record) + "\n")
    return path


def test_help_does_not_import_torch() -> None:
    code = "import sys; from scaler_wizard.cli import app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "command", ["plan", "grow", "eval", "runs", "recipes", "catalog", "profile"]
)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_recipes_list_show_copy(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["recipes", "list"])
    assert listed.exit_code == 0 and "balanced" in listed.output and "max-context" in listed.output
    shown = runner.invoke(app, ["recipes", "show", "max-parameters"])
    assert "schema_version: 1" in shown.output
    copied = runner.invoke(app, ["recipes", "copy", "balanced", str(tmp_path)])
    assert copied.exit_code == 0 and (tmp_path / "balanced.yaml").is_file()
    again = runner.invoke(app, ["recipes", "copy", "balanced", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_catalog_lists_every_kind() -> None:
    result = runner.invoke(app, ["catalog"])
    assert result.exit_code == 0
    for word in ("growth strategies", "lora", "context engines", "yarn", "evaluators", "passkey"):
        assert word in result.output


def run_plan(tmp_path: Path, model_dir: Path, *overrides: str) -> tuple[int, str]:
    data = write_messages(tmp_path / "train.jsonl")
    args = ["plan", "tiny-cpu", "--set", f"model.source={model_dir}", "--set", f"data.train={data}"]
    for item in overrides:
        args += ["--set", item]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["growth.0.strategy=lorax"],
            "growth[0].strategy: unknown growth strategy 'lorax'; allowed: lora",
        ),
        (["growth.0.options.r=0"], "growth[0].options.r"),
        (["data.train=/nonexistent/train.jsonl"], "data.train: file not found"),
        (["context.target_length=128"], "below the model's native context"),
        (["train.stepz=3"], "unknown field 'stepz'"),
        (["model.source=/no/such/model"], "model.source"),
        (["train.batch_size=100000"], "train.batch_size: training needs about"),
    ],
)
def test_plan_rejects_bad_input_clearly(
    tmp_path: Path, tiny_model_dir: Path, overrides: list[str], expected: str
) -> None:
    code, output = run_plan(tmp_path, tiny_model_dir, *overrides)
    assert code == 2, output
    assert expected in " ".join(output.split())
    assert "Traceback" not in output


def test_profile_recommends_settings_that_fit(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = write_messages(tmp_path / "train.jsonl")
    args = ["profile", "tiny-cpu", "--set", f"model.source={tiny_model_dir}"]
    result = runner.invoke(app, [*args, "--set", f"data.train={data}", "--json"])
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)
    advice = profile["fit"]["recommendation"]
    assert profile["template"]["template"] in ("balanced", "tiny-cpu")
    assert advice["memory"]["total_gib"] <= advice["budget_gib"]
    assert advice["batch_size"] * advice["grad_accum_steps"] >= 2  # tiny-cpu's batch
    bad = runner.invoke(app, ["profile", "--goal", "speed"])
    assert bad.exit_code == 2 and "--goal" in bad.output


def test_plan_shows_context_and_rank(tmp_path: Path, tiny_model_dir: Path) -> None:
    code, output = run_plan(tmp_path, tiny_model_dir, "context.scale=2", "growth.0.options.r=auto")
    assert code == 0, output
    assert "yarn" in output and "256 → 512" in output and "rank 8" in output


def test_malformed_recipe_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: x\ndata:\n  train: t.jsonl\ntrain:\n  steps: -3\n")
    result = runner.invoke(app, ["plan", str(bad)])
    assert result.exit_code == 2
    assert "line 6, train.steps" in result.output


def test_missing_recipe_file() -> None:
    result = runner.invoke(app, ["plan", "missing.yaml"])
    assert result.exit_code == 2 and "file not found" in result.output


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["growth.0.options.target_modules=[qproj]"], "growth[0].options.target_modules"),
        (["growth.0.options.r=512"], "growth[0].options.r"),
        (
            ["growth.0.strategy=layer_replication", "growth.0.options={layers: [[0, 9]]}"],
            "growth[0].options.layers",
        ),
        (
            ["growth.0.strategy=adalora", "growth.0.options={target_modules: [nope]}"],
            "growth[0].options.target_modules",
        ),
    ],
)
def test_growth_options_are_checked_against_the_model_before_loading(
    tmp_path: Path, tiny_model_dir: Path, overrides: list[str], expected: str
) -> None:
    code, output = run_plan(tmp_path, tiny_model_dir, *overrides)
    assert code == 2, output
    assert expected in " ".join(output.split())


def test_prefix_tuning_refuses_gradient_checkpointing(tmp_path: Path, tiny_model_dir: Path) -> None:
    code, output = run_plan(
        tmp_path,
        tiny_model_dir,
        "growth=[{strategy: prefix}]",
        "train.gradient_checkpointing=true",
    )
    assert code == 2 and "train.gradient_checkpointing" in output


def test_prefix_tuning_refuses_token_budget_passes(tmp_path: Path, tiny_model_dir: Path) -> None:
    code, output = run_plan(
        tmp_path, tiny_model_dir, "growth=[{strategy: prefix}]", "train.micro_batch_tokens=256"
    )
    assert code == 2 and "train.micro_batch_tokens" in output
    code, output = run_plan(tmp_path, tiny_model_dir, "train.micro_batch_tokens=256")
    assert code == 0, output  # LoRA takes them


def test_plan_accepts_a_folder_source_and_checks_transforms(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("The sky is blue.\n\nThe grass is green.\n" * 20)
    code, output = run_plan(tmp_path, tiny_model_dir, f"data.train={folder}", "data.format=text")
    assert code == 0, output
    code, output = run_plan(tmp_path, tiny_model_dir, "data.transforms=[{name: dedup_nearly}]")
    assert code == 2 and "data.transforms[0]" in output
