"""Needle in a haystack: calibrated length, needle depth, the grid end to end, the heatmap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaler_wizard.evaluate.needle import (
    FILLER_NAME,
    INTRO,
    NEEDLE,
    QUESTION,
    NeedleResult,
    build_needle_prompt,
    haystack_source,
    run_needle,
)
from scaler_wizard.evaluate.passkey import GARBAGE, MAX_NEW_TOKENS
from scaler_wizard.evaluate.plots import plot_needle_heatmap
from tiny_models import long_document

DOC = long_document("nodejs-api-buffer.md")
VALUE = 48213


def split_needle_prompt(text: str) -> tuple[str, str]:
    """(haystack before the needle, haystack after it), checking the fixed parts."""
    needle = "\n" + NEEDLE.format(value=VALUE) + "\n"
    assert text.startswith(INTRO + "\n") and text.endswith("\n" + QUESTION)
    body = text[len(INTRO) + 1 : -len(QUESTION) - 1]
    assert body.count(needle) == 1
    before, after = body.split(needle)
    return before, after


@pytest.mark.parametrize("source_kind", ["document", "filler"])
@pytest.mark.parametrize("target", [300, 2000])
@pytest.mark.parametrize("depth", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_prompt_hits_length_and_depth(
    tiny_tokenizer: Any, source_kind: str, target: int, depth: float
) -> None:
    source = haystack_source([DOC] if source_kind == "document" else [])
    text, tokens, actual = build_needle_prompt(tiny_tokenizer, source, target, depth, VALUE)
    assert tokens == len(tiny_tokenizer(text)["input_ids"])
    assert 0.99 * target <= tokens <= target  # within 1%, never past the window under test
    before, after = split_needle_prompt(text)
    separator = "\n\n" if source_kind == "document" else " "
    assert separator.join([source] * 500).startswith(before + after)  # one contiguous haystack
    before_tokens = len(tiny_tokenizer(before)["input_ids"])
    after_tokens = len(tiny_tokenizer(after)["input_ids"])
    assert before_tokens / (before_tokens + after_tokens) == pytest.approx(depth, abs=0.03)
    assert actual == pytest.approx(depth, abs=0.03)
    # Moved back to a line or sentence end, never mid-sentence (the shared documents have a
    # boundary within the 2% search span everywhere; the fallback text may not).
    if (
        0 < depth < 1
        and target > 1000
        and (source_kind == "filler" or DOC.parent.name == "longdocs")
    ):
        assert before.endswith(("\n", ". "))


def test_filler_haystack_is_the_passkey_garbage(tiny_tokenizer: Any) -> None:
    source = haystack_source([])
    text, _, _ = build_needle_prompt(tiny_tokenizer, source, 400, 0.5, VALUE)
    before, after = split_needle_prompt(text)
    assert source == GARBAGE and before.startswith(GARBAGE) and "\n" not in before + after


def test_too_short_target_is_an_error(tiny_tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="shorter than the bare needle prompt"):
        build_needle_prompt(tiny_tokenizer, GARBAGE, 20, 0.5, VALUE)


def test_grid_end_to_end_with_heatmap(tiny_model: Any, tiny_tokenizer: Any, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = run_needle(
        tiny_model, tiny_tokenizer, [256, 224], [1.0, 0.0], documents=[DOC], seed=7,
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert result.lengths == [224, 256] and result.depths == [0.0, 1.0]
    assert calls[-1] == (4, 4) and len(result.cells) == 4
    for cell in result.cells:
        assert cell.trials == len(cell.samples) == 1
        sample = cell.samples[0]
        budget = cell.length - MAX_NEW_TOKENS
        assert budget - max(1, budget // 100) <= sample.token_count <= budget
        assert sample.generated.strip()
        assert cell.accuracy == float(sample.correct) == cell.correct
    table = result.accuracy_table()
    assert list(table) == ["224", "256"] and list(table["224"]) == ["0%", "100%"]
    assert json.loads(json.dumps(table)) == table
    assert NeedleResult.model_validate_json(result.model_dump_json()) == result
    again = run_needle(tiny_model, tiny_tokenizer, [224], [0.0], documents=[DOC], seed=7)
    assert again.cells[0].samples == result.cells[0].samples  # same seed, same grid
    path = plot_needle_heatmap(result, tmp_path / "plots" / "needle.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000


def test_heatmap_shows_accuracy_per_cell(tmp_path: Path) -> None:
    """A hand-made grid: the plot must draw whatever the cells say, including 0% and 100%."""
    cells = [
        {"length": length, "depth": depth, "trials": 2, "correct": correct,
         "accuracy": correct / 2, "samples": []}
        for length, depth, correct in [(1024, 0.0, 2), (1024, 1.0, 1), (4096, 0.0, 0),
                                       (4096, 1.0, 2)]
    ]  # fmt: skip
    result = NeedleResult(lengths=[1024, 4096], depths=[0.0, 1.0], haystack=[FILLER_NAME],
                          cells=cells)  # fmt: skip
    assert result.accuracy == pytest.approx(5 / 8)
    assert result.accuracy_table() == {
        "1024": {"0%": 1.0, "100%": 0.5},
        "4096": {"0%": 0.0, "100%": 1.0},
    }
    assert plot_needle_heatmap(result, tmp_path / "grid.png").stat().st_size > 5_000
