"""`scaler-wizard eval` measures any model folder or a run's merged model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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
    assert "--conversations" in result.output and "--lm-eval" in result.output


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


EVAL_DATA = Path(__file__).parents[1] / "evaluate" / "data"
LM_EVAL_TASKS = EVAL_DATA / "lm_eval_tasks"


def test_eval_conversations_scores_turns_and_adherence(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    out_dir = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "eval", str(tiny_model_dir), "--conversations", str(EVAL_DATA / "chats.jsonl"),
            "--max-conversations", "2", "--max-new-tokens", "3", "--out", str(out_dir),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    turns = metrics["multi_turn"]
    assert turns["conversations"] == 2 and turns["replies"] == 5  # 3 + 2 assistant turns
    assert list(turns["loss_by_turn"]) == ["1", "2", "3"]
    assert all(loss > 0 for loss in turns["loss_by_turn"].values())
    adherence = metrics["template_adherence"]
    assert adherence["replies"] == 5 and 0.0 <= adherence["stop_rate"] <= 1.0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "multi_turn.json",
        "template_adherence.json",
    ]
    saved = json.loads((out_dir / "multi_turn.json").read_text())
    assert saved["loss"] == turns["loss"]
    assert json.loads((out_dir / "template_adherence.json").read_text())["max_new_tokens"] == 3


def test_eval_conversations_rejects_plain_text(tmp_path: Path, tiny_model_dir: Path) -> None:
    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({"text": "prose"}) + "\n")
    result = runner.invoke(app, ["eval", str(tiny_model_dir), "--conversations", str(notes)])
    assert result.exit_code == 2 and "records are 'text'" in result.output


@pytest.fixture()
def offline_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network, and a datasets cache private to the test."""
    datasets = pytest.importorskip("datasets")
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_eval_lm_eval_on_a_run_keeps_the_scores_with_it(
    isolated_home: Path,
    tiny_model_dir: Path,
    offline_datasets: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("lm_eval")
    run = isolated_home / "runs" / "20250101-000000-tiny"
    run.mkdir(parents=True)
    (run / "model").symlink_to(tiny_model_dir, target_is_directory=True)
    (run / "manifest.json").write_text(json.dumps({"run_id": run.name, "status": "completed"}))
    (run / "README.md").write_text("# an older card\n")
    monkeypatch.chdir(LM_EVAL_TASKS)  # the task YAML reads its JSONL relative to the cwd
    result = runner.invoke(
        app,
        ["eval", "tiny", "--lm-eval", "sw_tiny_choice", "--lm-eval-include", str(LM_EVAL_TASKS),
         "--lm-eval-limit", "4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert 0.0 <= metrics["lm_eval"]["sw_tiny_choice"]["acc"] <= 1.0
    assert metrics["files"] == [str(run / "eval" / "lm_eval.json")]
    saved = json.loads((run / "eval" / "lm_eval.json").read_text())
    assert saved["tasks"] == metrics["lm_eval"] and saved["limit"] == 4
    assert '"limit": 4,' in (run / "eval" / "lm_eval.json").read_text()  # a count
    assert saved["samples"] == {"sw_tiny_choice": 4} and saved["n_shot"] == {"sw_tiny_choice": 0}
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"  # the rest of the manifest is kept
    assert manifest["lm_eval"]["tasks"] == metrics["lm_eval"]
    assert manifest["lm_eval"]["file"] == "eval/lm_eval.json"
    card = (run / "README.md").read_text()
    assert "## lm-eval scores" in card and "| sw_tiny_choice | acc |" in card


def test_lm_eval_scores_accumulate_in_the_manifest(isolated_home: Path) -> None:
    from scaler_wizard.artifacts.run_folder import RunFolder
    from scaler_wizard.cli.evaluate_command import record_lm_eval
    from scaler_wizard.evaluate.lm_eval_bridge import LmEvalResult

    run = RunFolder(isolated_home / "runs" / "r1")
    run.path.mkdir(parents=True)
    run.write_manifest({"run_id": "r1", "status": "completed"})

    def result(task: str, acc: float) -> LmEvalResult:
        return LmEvalResult(
            lm_eval_version="0.4.13", tasks={task: {"acc": acc}}, n_shot={task: 0},
            samples={task: 8}, higher_is_better={task: {"acc": True}}, limit=None,
            num_fewshot=None, include_path=[],
        )  # fmt: skip

    record_lm_eval(run, result("arc_easy", 0.25), run.path / "eval" / "lm_eval.json")
    record_lm_eval(run, result("piqa", 0.5), run.path / "eval" / "lm_eval.json")
    recorded = run.read_manifest()["lm_eval"]
    assert recorded["tasks"] == {"arc_easy": {"acc": 0.25}, "piqa": {"acc": 0.5}}
    assert recorded["samples"] == {"arc_easy": 8, "piqa": 8}
    assert not (run.path / "README.md").exists()  # no card yet: none is made up


def test_eval_lm_eval_missing_extra_fails_before_loading(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "lm_eval", None)  # what an environment without it sees
    result = runner.invoke(app, ["eval", str(tiny_model_dir), "--lm-eval", "arc_easy"])
    assert result.exit_code == 2
    assert "pip install 'scaler-wizard[lm-eval]'" in " ".join(result.output.split())
    assert "Loading weights" not in result.output


def test_eval_lm_eval_missing_include_folder(tmp_path: Path, tiny_model_dir: Path) -> None:
    pytest.importorskip("lm_eval")
    result = runner.invoke(
        app,
        ["eval", str(tiny_model_dir), "--lm-eval", "x", "--lm-eval-include", str(tmp_path / "no")],
    )
    assert result.exit_code == 2 and "Loading weights" not in result.output
    assert "no such folder of task YAMLs" in " ".join(result.output.split())
