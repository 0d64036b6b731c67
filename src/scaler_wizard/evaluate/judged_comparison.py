"""Base vs grown on fixed prompts: both answers side by side, judged pairwise by a local model.

The judge reads an MT-Bench-style pairwise prompt and its verdict is read from its next-token
log-probabilities of "A" and "B" (no sampling, no parsing). Each pair is judged twice, the
answers swapped, so a judge that prefers a position cancels out: a side wins only when it
wins in both orders, otherwise the prompt is a tie.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from scaler_wizard.evaluate.chat_markers import chat_markers, render
from scaler_wizard.evaluate.held_out import model_device
from scaler_wizard.evaluate.loss import backbone_and_head, decoder_hidden
from scaler_wizard.evaluate.template_adherence import check_reply, greedy_reply

Progress = Callable[[int, int], None]
Verdict = Literal["grown", "base", "tie"]

JUDGE_INSTRUCTION = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two "
    "AI assistants to the user question displayed below. Choose the assistant that follows the "
    "user's instructions and answers the user's question better, considering helpfulness, "
    "relevance, accuracy, depth and level of detail. Do not let the order in which the "
    "responses are presented, their length, or the names of the assistants influence your "
    'decision. Output your final verdict as "[[A]]" if assistant A is better or "[[B]]" if '
    "assistant B is better."
)
VERDICT_PREFIX = "[["  # the judge's answer starts here: its next token is the letter


class Answer(BaseModel):
    """One model's greedy answer to one prompt."""

    model_config = ConfigDict(frozen=True)

    prompt: str
    answer: str
    new_tokens: int
    stopped: bool  # ended with the end-of-turn token within the budget


class AnswerSet(BaseModel):
    """Answers of one model, kept between the base and the grown measurement."""

    model_config = ConfigDict(frozen=True)

    model: str  # "base", "grown", ...
    model_path: str | None  # where the model was loaded from, for a judge named "base"
    max_new_tokens: int
    answers: list[Answer]


class PairVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt: str
    base: str
    grown: str
    grown_as_a: float | None = None  # P(grown better) when the grown answer is shown first
    grown_as_b: float | None = None  # ... and when it is shown second
    preference: float | None = None  # mean of both orders
    verdict: Verdict | None = None


class JudgedComparison(BaseModel):
    """Side-by-side answers and, with a judge, a verdict per prompt and the grown win rate."""

    model_config = ConfigDict(frozen=True)

    judge: str | None
    pairs: list[PairVerdict]
    grown_wins: int | None = None
    base_wins: int | None = None
    ties: int | None = None
    win_rate: float | None = None  # (grown wins + half the ties) / prompts


def generate_answers(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 128,
    progress: Progress | None = None,
) -> list[Answer]:
    """Greedy answers to single-turn user prompts, through the chat template."""
    import torch

    markers = chat_markers(tokenizer)
    answers: list[Answer] = []
    was_training = bool(model.training)
    model.eval()
    try:
        with torch.inference_mode():
            for done, prompt in enumerate(prompts, 1):
                text = render(tokenizer, [{"role": "user", "content": prompt}], True)
                ids = tokenizer(text, add_special_tokens=False)["input_ids"]
                new = greedy_reply(model, tokenizer, ids, max_new_tokens, markers.stop_token_ids)
                check = check_reply(tokenizer, new, markers)
                # The side-by-side shows what a user would read: special tokens dropped.
                shown = str(tokenizer.decode(new, skip_special_tokens=True)).strip()
                answers.append(
                    Answer(
                        prompt=prompt,
                        answer=shown,
                        new_tokens=check.new_tokens,
                        stopped=check.stopped,
                    )
                )
                if progress is not None:
                    progress(done, len(prompts))
    finally:
        model.train(was_training)
    return answers


def judge_prompt(question: str, answer_a: str, answer_b: str) -> str:
    return (
        f"{JUDGE_INSTRUCTION}\n\n[User Question]\n{question}\n\n"
        f"[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
        f"[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
    )


def _judge_text(tokenizer: Any, question: str, answer_a: str, answer_b: str) -> str:
    """The judge's input up to its verdict letter: a user turn and the answer's opening."""
    prompt = judge_prompt(question, answer_a, answer_b)
    if getattr(tokenizer, "chat_template", None):
        return render(tokenizer, [{"role": "user", "content": prompt}], True) + VERDICT_PREFIX
    return f"{prompt}\n\nVerdict: {VERDICT_PREFIX}"


def _letter_id(tokenizer: Any, text: str, base: list[int], letter: str) -> int:
    """The id the letter gets right after `text`: tokenizing it alone can differ (a merge
    with what precedes it, or a leading-space variant)."""
    with_letter = list(tokenizer(text + letter, add_special_tokens=False)["input_ids"])
    if len(with_letter) > len(base) and with_letter[: len(base)] == base:
        return int(with_letter[len(base)])
    return int(tokenizer(letter, add_special_tokens=False)["input_ids"][0])


def preference_for_a(
    judge: Any, tokenizer: Any, question: str, answer_a: str, answer_b: str
) -> float:
    """P("A") / (P("A") + P("B")) for the judge's next token after the pairwise prompt.

    Only the last position's hidden state goes through the LM head: no [tokens x vocab] logits.
    """
    import torch

    text = _judge_text(tokenizer, question, answer_a, answer_b)
    ids = [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    letters = [_letter_id(tokenizer, text, ids, letter) for letter in ("A", "B")]
    if letters[0] == letters[1]:
        raise ValueError("the judge's tokenizer gives 'A' and 'B' the same token")
    decoder, head = backbone_and_head(judge)
    input_ids = torch.tensor([ids], dtype=torch.long, device=model_device(judge))
    with torch.inference_mode():
        hidden = decoder_hidden(judge, decoder, input_ids)[:, -1]
        scores = torch.log_softmax(head(hidden).float(), dim=-1)[0, letters].tolist()
    return 1.0 / (1.0 + math.exp(scores[1] - scores[0]))


def verdict_of(grown_as_a: float, grown_as_b: float) -> Verdict:
    """A side wins only if the judge prefers it in both orders; otherwise a tie."""
    if grown_as_a > 0.5 and grown_as_b > 0.5:
        return "grown"
    if grown_as_a < 0.5 and grown_as_b < 0.5:
        return "base"
    return "tie"


def side_by_side(
    prompts: Sequence[str], base: Sequence[str], grown: Sequence[str]
) -> JudgedComparison:
    """The answers next to each other, without a verdict (no judge)."""
    if not (len(prompts) == len(base) == len(grown)):
        raise ValueError("prompts, base answers and grown answers differ in number")
    pairs = [
        PairVerdict(prompt=p, base=b, grown=g) for p, b, g in zip(prompts, base, grown, strict=True)
    ]
    return JudgedComparison(judge=None, pairs=pairs)


def judge_comparison(
    judge: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    base: Sequence[str],
    grown: Sequence[str],
    *,
    judge_name: str = "judge",
    progress: Progress | None = None,
) -> JudgedComparison:
    """A verdict per prompt from both presentation orders, and the grown model's win rate."""
    unjudged = side_by_side(prompts, base, grown)
    if not unjudged.pairs:
        raise ValueError("no prompt to judge")
    was_training = bool(judge.training)
    judge.eval()
    pairs: list[PairVerdict] = []
    try:
        for done, pair in enumerate(unjudged.pairs, 1):
            as_a = preference_for_a(judge, tokenizer, pair.prompt, pair.grown, pair.base)
            as_b = 1.0 - preference_for_a(judge, tokenizer, pair.prompt, pair.base, pair.grown)
            pairs.append(
                pair.model_copy(
                    update={
                        "grown_as_a": as_a,
                        "grown_as_b": as_b,
                        "preference": (as_a + as_b) / 2,
                        "verdict": verdict_of(as_a, as_b),
                    }
                )
            )
            if progress is not None:
                progress(done, len(unjudged.pairs))
    finally:
        judge.train(was_training)
    wins = sum(p.verdict == "grown" for p in pairs)
    losses = sum(p.verdict == "base" for p in pairs)
    ties = len(pairs) - wins - losses
    return JudgedComparison(
        judge=judge_name,
        pairs=pairs,
        grown_wins=wins,
        base_wins=losses,
        ties=ties,
        win_rate=(wins + 0.5 * ties) / len(pairs),
    )


def _cell(text: str | None) -> str:
    return "–" if text is None else text.replace("|", "\\|").replace("\n", "<br>") or " "


def comparison_markdown(result: JudgedComparison) -> str:
    """The side-by-side table (and verdicts) as Markdown, for the run's eval/ folder."""
    lines = ["# Base vs grown", ""]
    if result.judge is None:
        lines.append("Side by side only (no judge).")
    else:
        lines.append(
            f"Judge: `{result.judge}`, both answer orders. Grown wins {result.grown_wins}, "
            f"base wins {result.base_wins}, ties {result.ties}; "
            f"win rate {result.win_rate:.0%} (ties count half)."
        )
    headers = ["#", "Prompt", "Base", "Grown"]
    if result.judge is not None:
        headers += ["Verdict", "P(grown better)"]
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for index, pair in enumerate(result.pairs, 1):
        cells = [str(index), _cell(pair.prompt), _cell(pair.base), _cell(pair.grown)]
        if result.judge is not None:
            preference = "–" if pair.preference is None else f"{pair.preference:.2f}"
            cells += [_cell(pair.verdict), preference]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
