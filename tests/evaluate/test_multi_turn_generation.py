"""Template adherence of generated replies, and the judged base-vs-grown comparison.

A tiny random model says nothing useful, so the models whose behaviour is asserted get a real
LM head that always prefers one token (a bias, zero weights): their greedy output is known.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from scaler_wizard.evaluate.chat_markers import chat_markers
from scaler_wizard.evaluate.judged_comparison import (
    comparison_markdown,
    generate_answers,
    judge_comparison,
    judge_prompt,
    preference_for_a,
    side_by_side,
    verdict_of,
)
from scaler_wizard.evaluate.multi_turn import read_conversations, tokenize_conversations
from scaler_wizard.evaluate.template_adherence import check_reply, evaluate_adherence

CHATS = Path(__file__).parent / "data" / "chats.jsonl"


def always_says(model: Any, token_id: int) -> Any:
    """`model` with an LM head whose logits are the same at every position: `token_id` wins."""
    import torch

    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[token_id] = 10.0
    model.set_output_embeddings(head)
    return model


def ids(tokenizer: Any, text: str) -> list[int]:
    return [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]


def test_check_reply(tiny_tokenizer: Any) -> None:
    markers = chat_markers(tiny_tokenizer)
    end = tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")
    words = ids(tiny_tokenizer, "The sky is blue.")
    clean = check_reply(tiny_tokenizer, [*words, end], markers)
    assert clean.stopped and clean.leaks == [] and clean.adheres
    assert clean.reply == "The sky is blue." and clean.new_tokens == len(words) + 1
    runaway = check_reply(tiny_tokenizer, ids(tiny_tokenizer, "The sky is"), markers)
    assert not runaway.stopped and not runaway.adheres
    leaked = check_reply(
        tiny_tokenizer, [*ids(tiny_tokenizer, "Blue.<|im_start|>user\nAnd?"), end], markers
    )
    assert leaked.stopped and not leaked.adheres
    assert "special token <|im_start|>" in leaked.leaks
    # What follows the stop token is never the reply's (generation has stopped there).
    after = check_reply(tiny_tokenizer, [end, *ids(tiny_tokenizer, "user: hi")], markers)
    assert after.adheres and after.reply == "" and after.new_tokens == 1


def test_a_model_that_ends_its_turn_adheres(tiny_model: Any, tiny_tokenizer: Any) -> None:
    model = always_says(tiny_model, tiny_tokenizer.convert_tokens_to_ids("<|im_end|>"))
    conversations = tokenize_conversations(tiny_tokenizer, read_conversations(CHATS), 512)
    result = evaluate_adherence(model, tiny_tokenizer, conversations, max_new_tokens=6)
    assert result.prompts == 9  # every assistant turn of the four chats
    assert result.stop_rate == result.adherence_rate == 1.0
    assert result.leak_rate == 0.0 and result.failures == []
    assert result.end_of_turn == "<|im_end|>" and result.stop_tokens == ["<|im_end|>"]


def test_a_model_that_never_stops_and_leaks_fails(tiny_model: Any, tiny_tokenizer: Any) -> None:
    model = always_says(tiny_model, tiny_tokenizer.convert_tokens_to_ids("<|im_start|>"))
    conversations = tokenize_conversations(tiny_tokenizer, read_conversations(CHATS), 512)
    result = evaluate_adherence(
        model, tiny_tokenizer, conversations, max_new_tokens=3, max_prompts=7
    )
    assert result.prompts == 7
    assert result.stop_rate == 0.0 and result.leak_rate == 1.0 and result.adherence_rate == 0.0
    assert len(result.failures) == 5  # a few samples, not all
    first = result.failures[0]
    assert first.turn == 1 and first.new_tokens == 3 and not first.stopped
    assert first.reply == "<|im_start|>" * 3
    assert first.prompt_tail.endswith("<|im_start|>assistant\n")


def test_random_model_rates_are_fractions(tiny_model: Any, tiny_tokenizer: Any) -> None:
    conversations = tokenize_conversations(tiny_tokenizer, read_conversations(CHATS), 512)
    result = evaluate_adherence(tiny_model, tiny_tokenizer, conversations, max_new_tokens=4)
    for rate in (result.stop_rate, result.leak_rate, result.adherence_rate):
        assert 0.0 <= rate <= 1.0
    assert result.adherence_rate <= result.stop_rate


def test_verdict_needs_both_orders() -> None:
    assert verdict_of(0.9, 0.6) == "grown"
    assert verdict_of(0.2, 0.4) == "base"
    assert verdict_of(0.9, 0.1) == "tie"  # the judge just liked position A
    assert verdict_of(0.5, 0.5) == "tie"


def test_preference_equals_the_judges_full_logits(tiny_model: Any, tiny_tokenizer: Any) -> None:
    """P(A) is read from the judge's next token after the prompt and the verdict's "[[" opening."""
    import torch

    question, a, b = "What colour is the sky?", "Blue.", "Green."
    p_a = preference_for_a(tiny_model, tiny_tokenizer, question, a, b)
    text = tiny_tokenizer.apply_chat_template(
        [{"role": "user", "content": judge_prompt(question, a, b)}],
        tokenize=False,
        add_generation_prompt=True,
    )
    prompt = ids(tiny_tokenizer, text + "[[")
    letters = [ids(tiny_tokenizer, text + "[[" + x)[len(prompt)] for x in "AB"]
    with torch.no_grad():
        logits = tiny_model(input_ids=torch.tensor([prompt])).logits[0, -1]
    expected = torch.softmax(logits[letters].double(), dim=0)[0].item()
    assert p_a == pytest.approx(expected, abs=1e-5)
    assert 0.0 < p_a < 1.0


def test_a_position_biased_judge_gives_ties(tiny_model: Any, tiny_tokenizer: Any) -> None:
    judge = always_says(tiny_model, tiny_tokenizer.convert_tokens_to_ids("A"))
    prompts = ["What colour is the sky?", "Say hi."]
    result = judge_comparison(
        judge, tiny_tokenizer, prompts, ["Blue.", "Hi."], ["Green.", "Hello!"], judge_name="base"
    )
    assert [p.verdict for p in result.pairs] == ["tie", "tie"]
    for pair in result.pairs:
        assert pair.grown_as_a is not None and pair.grown_as_b is not None
        assert pair.grown_as_a > 0.99 and pair.grown_as_b < 0.01
        assert pair.preference == pytest.approx(0.5, abs=0.01)
    assert (result.grown_wins, result.base_wins, result.ties) == (0, 0, 2)
    assert result.win_rate == 0.5 and result.judge == "base"


def test_random_judge_verdicts_are_consistent(tiny_model: Any, tiny_tokenizer: Any) -> None:
    result = judge_comparison(
        tiny_model, tiny_tokenizer, ["q1", "q2", "q3"], ["a", "b", "c"], ["x", "y", "z"]
    )
    wins = sum(p.verdict == "grown" for p in result.pairs)
    ties = sum(p.verdict == "tie" for p in result.pairs)
    assert result.win_rate == pytest.approx((wins + 0.5 * ties) / 3)
    for pair in result.pairs:
        assert pair.grown_as_a is not None and pair.grown_as_b is not None
        assert pair.verdict == verdict_of(pair.grown_as_a, pair.grown_as_b)
        assert not math.isnan(pair.preference or math.nan)


def test_side_by_side_without_judge_and_markdown() -> None:
    result = side_by_side(["Pipes | and\nlines?"], ["a|b"], ["c"])
    assert result.judge is None and result.win_rate is None and result.pairs[0].verdict is None
    text = comparison_markdown(result)
    assert "Side by side only" in text
    assert "| 1 | Pipes \\| and<br>lines? | a\\|b | c |" in text
    with pytest.raises(ValueError, match="differ in number"):
        side_by_side(["q"], ["a", "b"], ["c"])


def test_markdown_of_a_judged_comparison(tiny_model: Any, tiny_tokenizer: Any) -> None:
    judge = always_says(tiny_model, tiny_tokenizer.convert_tokens_to_ids("A"))
    result = judge_comparison(judge, tiny_tokenizer, ["q"], ["a"], ["b"], judge_name="base")
    text = comparison_markdown(result)
    assert "Judge: `base`" in text and "win rate 50%" in text
    assert "| # | Prompt | Base | Grown | Verdict | P(grown better) |" in text
    assert "| 1 | q | a | b | tie | 0.50 |" in text


def test_answers_end_at_the_end_of_turn(tiny_model: Any, tiny_tokenizer: Any) -> None:
    model = always_says(tiny_model, tiny_tokenizer.convert_tokens_to_ids("<|im_end|>"))
    answers = generate_answers(model, tiny_tokenizer, ["Hi", "Bye"], max_new_tokens=5)
    assert [(a.prompt, a.answer, a.stopped, a.new_tokens) for a in answers] == [
        ("Hi", "", True, 1),
        ("Bye", "", True, 1),
    ]
    talker = always_says(tiny_model, tiny_tokenizer.convert_tokens_to_ids("A"))
    (answer,) = generate_answers(talker, tiny_tokenizer, ["Hi"], max_new_tokens=4)
    assert answer.answer == "AAAA" and not answer.stopped and answer.new_tokens == 4
