"""lm-eval interop: a real harness run of local tasks on a tiny model, and the error paths."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from scaler_wizard.evaluate.lm_eval_bridge import (
    LmEvalError,
    check_tasks,
    parse_tasks,
    run_lm_eval,
    task_manager,
)

needs_lm_eval = pytest.mark.skipif(
    importlib.util.find_spec("lm_eval") is None, reason="the lm-eval extra is not installed"
)

DATA = Path(__file__).parent / "data"
TASKS = DATA / "lm_eval_tasks"
HUB_TASK = DATA / "lm_eval_hub_task"


@pytest.fixture()
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No network and a private datasets cache: local task data must be enough."""
    import datasets
    import huggingface_hub

    cache = tmp_path / "hf" / "datasets"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    # datasets and huggingface_hub read the environment once, at import: set what they read.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return cache


def choice_accuracy(model: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> float:
    """Multiple-choice accuracy computed here: the choice whose tokens (after the question)
    have the highest summed log-probability, as the harness defines `acc`."""
    import torch

    correct = 0
    for row in rows:
        context = f"Question: {row['question']}\nAnswer:"
        before = tokenizer(context, add_special_tokens=False)["input_ids"]
        scores = []
        for choice in row["choices"]:
            whole = tokenizer(f"{context} {choice}", add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([whole])).logits[0].log_softmax(-1)
            scores.append(
                sum(float(logits[i - 1, whole[i]]) for i in range(len(before), len(whole)))
            )
        correct += int(max(range(len(scores)), key=scores.__getitem__) == row["answer"])
    return correct / len(rows)


@needs_lm_eval
def test_local_tasks_run_in_the_real_harness(
    tiny_model: Any, tiny_tokenizer: Any, offline_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import lm_eval

    monkeypatch.chdir(TASKS)  # the task YAMLs name their data file relative to the cwd
    result = run_lm_eval(
        tiny_model,
        tiny_tokenizer,
        ["sw_tiny_choice", "sw_tiny_loglikelihood"],
        include_path=[TASKS],
        limit=6,
        batch_size=2,
    )
    assert result.lm_eval_version == lm_eval.__version__
    assert set(result.tasks) == {"sw_tiny_choice", "sw_tiny_loglikelihood"}
    choice, likelihood = result.tasks["sw_tiny_choice"], result.tasks["sw_tiny_loglikelihood"]
    for score in (choice["acc"], choice["acc_norm"], likelihood["acc"]):
        assert 0.0 <= score <= 1.0
    assert likelihood["perplexity"] >= 1.0
    assert result.samples == {"sw_tiny_choice": 6, "sw_tiny_loglikelihood": 6}
    assert result.n_shot == {"sw_tiny_choice": 0, "sw_tiny_loglikelihood": 0}
    assert result.higher_is_better["sw_tiny_loglikelihood"] == {"perplexity": False, "acc": True}
    assert result.limit == 6 and result.include_path == [str(TASKS)]
    rows = [json.loads(line) for line in (TASKS / "tiny_choice.jsonl").read_text().splitlines()]
    assert choice["acc"] == pytest.approx(choice_accuracy(tiny_model, tiny_tokenizer, rows[:6]))
    assert tiny_model.training is False  # the fixture's eval mode is given back


@needs_lm_eval
def test_a_hub_dataset_offline_says_which_and_how_to_go_local(
    tiny_model: Any, tiny_tokenizer: Any, offline_hub: Path
) -> None:
    with pytest.raises(LmEvalError) as caught:
        run_lm_eval(tiny_model, tiny_tokenizer, ["sw_hub_only"], include_path=[HUB_TASK])
    message = str(caught.value)
    assert "scaler-wizard-tests/no-such-dataset" in message
    assert "hub is unreachable" in message
    assert "--lm-eval-include" in message and "dataset_path: json" in message


@needs_lm_eval
def test_a_missing_local_data_file_is_named(
    tiny_model: Any, tiny_tokenizer: Any, offline_hub: Path, tmp_path: Path
) -> None:
    yaml = (TASKS / "tiny_choice.yaml").read_text()
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "tiny_choice.yaml").write_text(
        yaml.replace("test: tiny_choice.jsonl", f"test: {tmp_path / 'gone.jsonl'}")
    )
    with pytest.raises(LmEvalError, match="a data file is missing"):
        run_lm_eval(tiny_model, tiny_tokenizer, ["sw_tiny_choice"], include_path=[folder])


@needs_lm_eval
def test_unknown_task_lists_close_names() -> None:
    manager = task_manager([TASKS], ["sw_tiny_choice"])  # the user folder alone: quick
    assert set(manager.all_tasks) == {"sw_tiny_choice", "sw_tiny_loglikelihood"}
    with pytest.raises(LmEvalError) as caught:
        check_tasks(manager, ["sw_tiny_choise", "sw_tiny"])
    message = str(caught.value)
    assert "unknown lm-eval task 'sw_tiny_choise' (close names: sw_tiny_choice" in message
    assert "'sw_tiny' (close names: sw_tiny_choice, sw_tiny_loglikelihood)" in message
    check_tasks(manager, ["sw_tiny_loglikelihood"])  # a known name passes


@pytest.mark.slow
@needs_lm_eval
def test_unknown_task_among_the_built_ins(tiny_model: Any, tiny_tokenizer: Any) -> None:
    """Not in the user folder: the ~15k built-in tasks are indexed (slow) and searched."""
    with pytest.raises(LmEvalError, match="'hellaswg' \\(close names: hellaswag"):
        run_lm_eval(tiny_model, tiny_tokenizer, ["hellaswg"], include_path=[TASKS])


@needs_lm_eval
def test_a_missing_include_folder(tiny_model: Any, tiny_tokenizer: Any, tmp_path: Path) -> None:
    with pytest.raises(LmEvalError, match="no such folder of task YAMLs"):
        run_lm_eval(tiny_model, tiny_tokenizer, ["x"], include_path=[tmp_path / "none"])


def test_lm_eval_not_installed(
    tiny_model: Any, tiny_tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "lm_eval", None)  # what an environment without it sees
    with pytest.raises(LmEvalError, match=r"pip install 'scaler-wizard\[lm-eval\]'"):
        run_lm_eval(tiny_model, tiny_tokenizer, ["sw_tiny_choice"])


def test_parse_tasks() -> None:
    assert parse_tasks("arc_easy, hellaswag,arc_easy") == ["arc_easy", "hellaswag"]
    assert parse_tasks(["a,b", "c"]) == ["a", "b", "c"]
    with pytest.raises(LmEvalError, match="no lm-eval task"):
        parse_tasks(" , ")


def test_limit_must_be_positive(tiny_model: Any, tiny_tokenizer: Any) -> None:
    with pytest.raises(LmEvalError, match="must be positive"):
        run_lm_eval(tiny_model, tiny_tokenizer, ["sw_tiny_choice"], limit=0)
