"""evaluate.multi_turn in a run: per-turn loss and adherence for base and grown, base answers
kept between the two measurements, and the grown model's answers judged against them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from event_helpers import Collect
from scaler_wizard.cli import app
from scaler_wizard.data.packing import pack_examples
from scaler_wizard.data.tokenize import tokenize_example
from scaler_wizard.evaluate.multi_turn import read_conversations
from scaler_wizard.pipeline.evaluation import measure
from scaler_wizard.recipe.spec import EvaluateSpec, MultiTurnSpec
from scaler_wizard.telemetry.bus import EventBus

CHATS = Path(__file__).parents[1] / "evaluate" / "data" / "chats.jsonl"
PROMPTS = ["What colour is the sky?", "Say hi."]
runner = CliRunner()


def spec(held_out: bool = True, **changes: Any) -> EvaluateSpec:
    multi = MultiTurnSpec(**{"max_new_tokens": 3, "prompts": PROMPTS, **changes})
    return EvaluateSpec(held_out=held_out, passkey=None, multi_turn=multi)


def held_out_rows(tokenizer: Any) -> list[Any]:
    examples = read_conversations(CHATS)
    return pack_examples([tokenize_example(tokenizer, e, 256) for e in examples], 256)


def loaded(folder: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).eval()


def grown_model(tokenizer: Any) -> Any:
    """A different model of the same vocabulary: the base with one more layer."""
    from tiny_models import build_tiny_model

    return build_tiny_model(tokenizer, layers=3)


def test_base_then_grown_measure_and_judge(
    tmp_path: Path, tiny_model_dir: Path, tiny_tokenizer: Any
) -> None:
    rows = held_out_rows(tiny_tokenizer)
    collected = Collect()
    bus = EventBus("run", [collected])
    out = tmp_path / "eval"
    base = measure(
        loaded(tiny_model_dir), tiny_tokenizer, rows, spec(), 256, "base", bus, 2, 0, out
    )
    assert base["multi_turn_loss"] == pytest.approx(base["eval_loss"], abs=1e-5)  # all chat
    assert list(base["multi_turn"]["loss_by_turn"]) == ["1", "2", "3"]
    for key in ("template_stop_rate", "template_leak_rate", "template_adherence"):
        assert 0.0 <= base[key] <= 1.0
    answers = json.loads((out / "answers_base.json").read_text())
    assert answers["model_path"] == str(tiny_model_dir)  # for the judge named "base"
    assert [a["prompt"] for a in answers["answers"]] == PROMPTS
    assert "judged_win_rate" not in base  # nothing to compare with yet

    grown = measure(grown_model(tiny_tokenizer), tiny_tokenizer, rows, spec(), 256, "grown",
                    bus, 2, 0, out)  # fmt: skip
    assert grown["multi_turn_loss"] != base["multi_turn_loss"]
    judged = json.loads((out / "judged_comparison_grown.json").read_text())
    assert judged["judge"] == f"base ({tiny_model_dir})"
    assert [p["prompt"] for p in judged["pairs"]] == PROMPTS
    assert [p["base"] for p in judged["pairs"]] == [a["answer"] for a in answers["answers"]]
    assert all(p["verdict"] in ("grown", "base", "tie") for p in judged["pairs"])
    assert grown["judged_win_rate"] == judged["win_rate"]
    assert 0.0 <= grown["judged_win_rate"] <= 1.0
    assert sum(grown["judged"].values()) == len(PROMPTS)
    table = (out / "judged_comparison_grown.md").read_text()
    assert "| # | Prompt | Base | Grown | Verdict | P(grown better) |" in table
    assert sorted(p.name for p in out.iterdir()) == [
        "answers_base.json",
        "answers_grown.json",
        "judged_comparison_grown.json",
        "judged_comparison_grown.md",
        "multi_turn_base.json",
        "multi_turn_grown.json",
        "template_adherence_base.json",
        "template_adherence_grown.json",
    ]
    tasks = {e.data.get("task") for e in collected.events if e.type == "ProgressUpdated"}
    assert {"multi-turn loss (base)", "judging base vs grown"} <= tasks


def test_no_judge_no_baseline_and_a_conversation_file(
    tmp_path: Path, tiny_model: Any, tiny_tokenizer: Any
) -> None:
    bus = EventBus("run", [])
    out = tmp_path / "eval"
    chosen = spec(False, judge=None, baseline=False, conversations=str(CHATS), max_conversations=1)
    base = measure(tiny_model, tiny_tokenizer, [], chosen, 256, "base", bus, 2, 0, out)
    assert "multi_turn_loss" not in base and (out / "answers_base.json").is_file()
    grown = measure(grown_model(tiny_tokenizer), tiny_tokenizer, [], chosen, 256, "grown",
                    bus, 2, 0, out)  # fmt: skip
    assert list(grown["multi_turn"]["loss_by_turn"]) == ["1", "2", "3"]  # the first chat only
    judged = json.loads((out / "judged_comparison_grown.json").read_text())
    assert judged["judge"] is None and judged["win_rate"] is None
    assert "judged_win_rate" not in grown
    assert "Side by side only" in (out / "judged_comparison_grown.md").read_text()


def test_a_split_without_conversations_says_what_to_set(
    tmp_path: Path, tiny_model: Any, tiny_tokenizer: Any
) -> None:
    from scaler_wizard.data.formats import Example

    text = Example(None, "The quick brown fox jumps over the lazy dog.", 1)
    rows = pack_examples([tokenize_example(tiny_tokenizer, text, 64)], 64)
    with pytest.raises(ValueError, match=r"set evaluate\.multi_turn\.conversations"):
        measure(tiny_model, tiny_tokenizer, rows, spec(), 64, "base", EventBus("r"), 2, 0, tmp_path)


def test_a_judge_folder_that_does_not_exist(
    tmp_path: Path, tiny_model: Any, tiny_tokenizer: Any
) -> None:
    chosen = spec(False, judge=str(tmp_path / "no-judge"), baseline=False, prompts=PROMPTS[:1])
    bus = EventBus("run", [])
    measure(tiny_model, tiny_tokenizer, [], chosen, 256, "base", bus, 2, 0, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"evaluate\.multi_turn\.judge: no model at"):
        measure(tiny_model, tiny_tokenizer, held_out_rows(tiny_tokenizer), chosen, 256, "grown",
                bus, 2, 0, tmp_path)  # fmt: skip


def write_chats(path: Path, n: int) -> Path:
    lines = []
    for i in range(n):
        turns = [
            {"role": "user", "content": f"What does `json.dumps` do? ({i})"},
            {"role": "assistant", "content": "Serialize obj to a JSON formatted str."},
            {"role": "user", "content": "And `json.loads`?"},
            {"role": "assistant", "content": "It parses a JSON str."},
        ]
        lines.append(json.dumps({"messages": turns}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_run_with_multi_turn_has_it_in_manifest_and_card(
    tmp_path: Path, tiny_model_dir: Path, isolated_home: Path
) -> None:
    args = ["grow", "tiny-cpu", "--quiet"]
    for item in (
        f"model.source={tiny_model_dir}",
        f"data.train={write_chats(tmp_path / 'd.jsonl', 30)}",
        "context.scale=2",
        "train.steps=2",
        "evaluate.multi_turn={max_new_tokens: 3, max_conversations: 4, prompts: [Say hi.]}",
    ):
        args += ["--set", item]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = [p for p in (isolated_home / "runs").iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    base, grown = manifest["metrics"]["base"], manifest["metrics"]["grown"]
    assert list(base["multi_turn"]["loss_by_turn"]) == ["1", "2"]
    assert 0.0 <= grown["judged_win_rate"] <= 1.0
    card = (run / "README.md").read_text()
    assert "## Multi-turn chat" in card and "| Loss, assistant turn 2 |" in card
    assert (run / "eval" / "judged_comparison_grown.md").is_file()
