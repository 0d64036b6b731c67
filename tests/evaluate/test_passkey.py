"""Passkey retrieval: the exact Mohtashami & Jaggi prompt, calibrated length and depth, scoring."""

from __future__ import annotations

from typing import Any

import pytest

from scaler_wizard.evaluate.passkey import (
    MAX_NEW_TOKENS,
    build_passkey_prompt,
    passkey_lengths,
    run_passkey,
    score_passkey,
    trial_depths,
)
from scaler_wizard.recipe.spec import PasskeySpec

INTRO = (
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "them. I will quiz you about the important information there."
)
QUESTION = "What is the pass key? The pass key is"


def split_prompt(text: str, key: int) -> tuple[str, str]:
    """(garbage before the needle, garbage after it), checking every fixed line on the way."""
    lines = text.split("\n")
    assert len(lines) == 5
    assert lines[0] == INTRO
    assert lines[2] == f"The pass key is {key}. Remember it. {key} is the pass key."
    assert lines[4] == QUESTION
    for garbage in (lines[1], lines[3]):
        expected = " ".join(["The grass is green. The sky is blue. The sun is yellow. "
                             "Here we go. There and back again."] * 1000)  # fmt: skip
        assert expected.startswith(garbage)  # both halves slice the start of the same haystack
    return lines[1], lines[3]


@pytest.mark.parametrize("target", [200, 1000, 4000])
@pytest.mark.parametrize("depth", [0.1, 0.5, 0.9])
def test_prompt_hits_length_and_depth(tiny_tokenizer: Any, target: int, depth: float) -> None:
    prompt = build_passkey_prompt(tiny_tokenizer, target, depth, passkey=48213)
    tokens = len(tiny_tokenizer(prompt.text)["input_ids"])
    assert tokens == prompt.token_count
    assert 0.99 * target <= tokens <= target  # within 1%, never past the window under test
    before, after = split_prompt(prompt.text, 48213)
    assert len(before) / (len(before) + len(after)) == pytest.approx(depth, abs=0.05)
    assert (prompt.depth, prompt.passkey) == (depth, 48213)


def test_prompt_is_never_wrapped_in_the_chat_template(tiny_tokenizer: Any) -> None:
    assert tiny_tokenizer.chat_template  # the fixture has one: it must be ignored
    prompt = build_passkey_prompt(tiny_tokenizer, 300, 0.5, passkey=11111)
    assert prompt.text.startswith(INTRO)
    assert "<|im_start|>" not in prompt.text


def test_long_prompt_needs_few_tokenizations(tiny_tokenizer: Any) -> None:
    """A binary search: about log2(characters) calls, not YaRN's one call per 128 characters."""
    calls = 0

    def counting(text: str) -> Any:
        nonlocal calls
        calls += 1
        return tiny_tokenizer(text)

    prompt = build_passkey_prompt(counting, 16_000, 0.3, passkey=22222)
    assert 15_840 <= prompt.token_count <= 16_000
    assert calls <= 25


def test_target_below_the_fixed_text_is_an_error(tiny_tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="shorter than the bare passkey prompt"):
        build_passkey_prompt(tiny_tokenizer, 10, 0.5, passkey=12345)


@pytest.mark.parametrize("depth", [-0.1, 1.5])
def test_depth_outside_unit_interval_is_an_error(tiny_tokenizer: Any, depth: float) -> None:
    with pytest.raises(ValueError, match="depth"):
        build_passkey_prompt(tiny_tokenizer, 200, depth, passkey=12345)


@pytest.mark.parametrize(
    ("generated", "correct"),
    [
        (" 12345.", True),
        ("12345", True),
        (" 12345 is the pass key", True),
        (" 12345abc", True),
        ("\n\nThe pass key is 12345", True),  # the first integer, wherever it starts
        (" 012345", True),  # compared as integers, like landmark-attention and YaRN
        (" 54321. 12345", False),  # only the first integer counts
        (" 123456", False),
        (" 1234", False),
        (" 12 345", False),
        (" twelve thousand", False),
        ("", False),
    ],
)
def test_scoring_takes_the_first_integer(generated: str, correct: bool) -> None:
    assert score_passkey(generated, 12345) is correct


@pytest.mark.parametrize(
    ("trials", "depths"),
    [(1, [0.5]), (3, [0.25, 0.5, 0.75]), (4, [0.2, 0.4, 0.6, 0.8])],
)
def test_depths_spread_evenly_inside_the_unit_interval(trials: int, depths: list[float]) -> None:
    assert trial_depths(trials) == pytest.approx(depths)


@pytest.mark.parametrize(
    ("lengths", "expected"),
    [(None, [8192]), ([4096, 2048, 4096], [2048, 4096]), ([16384], [16384])],
)
def test_passkey_lengths(lengths: list[int] | None, expected: list[int]) -> None:
    assert passkey_lengths(PasskeySpec(lengths=lengths), 8192) == expected


def test_run_passkey_end_to_end(tiny_model: Any, tiny_tokenizer: Any) -> None:
    calls: list[tuple[int, int]] = []
    tiny_model.train()
    result = run_passkey(
        tiny_model, tiny_tokenizer, [120, 200], trials=2, seed=3,
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert tiny_model.training  # mode restored
    assert [item.length for item in result.lengths] == [120, 200]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for item in result.lengths:
        assert item.trials == len(item.samples) == 2
        assert item.accuracy == sum(s.correct for s in item.samples) / 2
        assert [s.depth for s in item.samples] == pytest.approx([1 / 3, 2 / 3])
        for sample in item.samples:
            assert 10_000 <= sample.passkey <= 99_999
            budget = item.length - MAX_NEW_TOKENS  # the answer must fit the window too
            assert budget - max(1, budget // 100) <= sample.token_count <= budget
            assert sample.generated.strip()  # a random model still continues the text
            assert sample.correct == score_passkey(sample.generated, sample.passkey)
    assert set(result.accuracy_by_length()) == {"120", "200"}
    again = run_passkey(tiny_model, tiny_tokenizer, [120], trials=2, seed=3)
    assert again.lengths[0].samples == result.lengths[0].samples  # same seed, same test
