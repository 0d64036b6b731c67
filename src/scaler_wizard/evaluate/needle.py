"""Needle in a haystack (gkamradt's grid, RULER-style synthetic needle) scored by exact match.

A 135M model cannot serve as an LLM judge, so the needle is a random number and the answer
is right when the first integer generated equals it (the passkey scoring).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from scaler_wizard.evaluate.passkey import (
    GARBAGE,
    MAX_NEW_TOKENS,
    generate_continuation,
    score_passkey,
)
from scaler_wizard.evaluate.prompt_length import count_tokens, fit_filler_chars

INTRO = (
    "A special magic number is hidden inside the following text. Make sure to memorize it. "
    "I will quiz you about the special magic number afterwards."
)
NEEDLE = "The special magic number is {value}."
QUESTION = (
    "What is the special magic number mentioned in the text above? The special magic number is"
)
DEFAULT_DEPTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
FILLER_NAME = "passkey filler"
BOUNDARY_SEARCH = 0.02  # the needle moves back to a line/sentence end by at most 2% of the text

Progress = Callable[[int, int], None]


class NeedleSample(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: int
    token_count: int
    needle_depth: float  # where the needle sits: haystack tokens before it / all of them
    generated: str
    correct: bool


class NeedleCell(BaseModel):
    model_config = ConfigDict(frozen=True)

    length: int
    depth: float
    trials: int
    correct: int
    accuracy: float
    samples: list[NeedleSample]


class NeedleResult(BaseModel):
    """A lengths x depths grid; JSON-serialisable (`model_dump_json`)."""

    model_config = ConfigDict(frozen=True)

    lengths: list[int]
    depths: list[float]
    haystack: list[str]  # document paths, or the passkey filler
    cells: list[NeedleCell]

    @property
    def accuracy(self) -> float:
        return sum(cell.correct for cell in self.cells) / sum(cell.trials for cell in self.cells)

    def cell(self, length: int, depth: float) -> NeedleCell:
        for cell in self.cells:
            if cell.length == length and cell.depth == depth:
                return cell
        raise KeyError((length, depth))

    def accuracy_table(self) -> dict[str, dict[str, float]]:
        """{"4096": {"0%": 1.0, "50%": 0.0, ...}, ...}: lengths x depth percent."""
        return {
            str(length): {depth_label(d): self.cell(length, d).accuracy for d in self.depths}
            for length in self.lengths
        }


def depth_label(depth: float) -> str:
    return f"{depth * 100:g}%"


def haystack_source(documents: Sequence[Path | str]) -> str:
    """The documents joined (paragraph break between them), or the passkey garbage."""
    texts = [Path(path).read_text(encoding="utf-8").strip() for path in documents]
    texts = [text for text in texts if text]
    return "\n\n".join(texts) if texts else GARBAGE


def _haystack(source: str, chars: int) -> str:
    """The first `chars` characters of the source, repeated when short.

    Documents repeat after a blank line; the one-line passkey garbage after a space, as in
    the passkey prompt, so the noise haystack stays one paragraph.
    """
    separator = "\n\n" if "\n" in source else " "
    repeats = chars // (len(source) + len(separator)) + 1
    return separator.join([source] * repeats)[:chars]


def _token_position(tokenizer: Any, text: str, depth: float) -> int:
    """The character where the token at `depth` of the text's tokens starts.

    Depth is measured in tokens, as gkamradt does, since characters per token vary a lot
    between prose and code blocks; without offsets (slow tokenizers) characters stand in.
    """
    try:
        offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)[
            "offset_mapping"
        ]
    except (TypeError, KeyError, NotImplementedError, ValueError):
        return round(len(text) * depth)
    index = round(len(offsets) * depth)
    return len(text) if index >= len(offsets) else int(offsets[index][0])


def needle_cut(text: str, depth: float, tokenizer: Any = None) -> int:
    """Where the needle goes: at `depth` of the text, moved back to a sentence or line end.

    As in gkamradt's `insert_needle`, which backs up to the previous "." token, so the needle
    does not split a sentence; the move is bounded so the requested depth still holds.
    """
    if tokenizer is None:
        position = round(len(text) * depth)
    else:
        position = _token_position(tokenizer, text, depth)
    if position <= 0 or position >= len(text):
        return max(0, min(position, len(text)))
    floor = position - max(1, int(len(text) * BOUNDARY_SEARCH))
    for index in range(position, max(floor, 0), -1):
        if text[index - 1] == "\n" or (index >= 2 and text[index - 2 : index] == ". "):
            return index
    return position


def render_needle_prompt(
    source: str, chars: int, depth: float, value: int, tokenizer: Any = None
) -> str:
    """Intro, haystack with the needle at `depth`, question; lines joined like the passkey's."""
    haystack = _haystack(source, chars)
    cut = needle_cut(haystack, depth, tokenizer)
    lines = [INTRO, haystack[:cut], NEEDLE.format(value=value), haystack[cut:], QUESTION]
    return "\n".join(lines)


def build_needle_prompt(
    tokenizer: Any, source: str, target_tokens: int, depth: float, value: int
) -> tuple[str, int, float]:
    """(prompt, tokens, actual needle depth): at most `target_tokens`, at least 1% fewer."""
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be within [0, 1], got {depth}")
    sample = source[:4000]
    chars_per_token = len(sample) / max(1, count_tokens(tokenizer, sample))
    chars, tokens = fit_filler_chars(
        tokenizer,
        lambda n: render_needle_prompt(source, n, depth, value, tokenizer),
        target_tokens,
        chars_per_token,
        what="needle prompt",
    )
    haystack = _haystack(source, chars)
    cut = needle_cut(haystack, depth, tokenizer)
    actual = count_tokens(tokenizer, haystack[:cut]) / max(1, count_tokens(tokenizer, haystack))
    return render_needle_prompt(source, chars, depth, value, tokenizer), tokens, actual


def run_needle(
    model: Any,
    tokenizer: Any,
    lengths: Sequence[int],
    depths: Sequence[float] = DEFAULT_DEPTHS,
    *,
    documents: Sequence[Path | str] = (),
    trials: int = 1,
    seed: int = 0,
    progress: Progress | None = None,
) -> NeedleResult:
    """Exact-match retrieval accuracy for every (length, depth) cell, `trials` numbers each.

    Lengths are whole prompts including the answer (`MAX_NEW_TOKENS`), as for the passkey.
    The same seed gives the same numbers and prompts, so base and grown face the same grid.
    """
    import torch

    if trials < 1:
        raise ValueError("trials must be at least 1")
    lengths, depths = sorted(set(lengths)), sorted(set(depths))
    if not lengths or not depths:
        raise ValueError("needle lengths and depths must not be empty")
    source = haystack_source(documents)
    rng = random.Random(seed)
    total, done = len(lengths) * len(depths) * trials, 0
    was_training = bool(model.training)
    model.eval()
    cells: list[NeedleCell] = []
    try:
        with torch.inference_mode():
            for length in lengths:
                for depth in depths:
                    samples: list[NeedleSample] = []
                    for _ in range(trials):
                        value = rng.randint(10_000, 99_999)
                        text, tokens, actual = build_needle_prompt(
                            tokenizer, source, length - MAX_NEW_TOKENS, depth, value
                        )
                        generated = generate_continuation(model, tokenizer, text)
                        samples.append(
                            NeedleSample(
                                value=value,
                                token_count=tokens,
                                needle_depth=actual,
                                generated=generated,
                                correct=score_passkey(generated, value),
                            )
                        )
                        done += 1
                        if progress is not None:
                            progress(done, total)
                    correct = sum(sample.correct for sample in samples)
                    cells.append(
                        NeedleCell(
                            length=length,
                            depth=depth,
                            trials=trials,
                            correct=correct,
                            accuracy=correct / trials,
                            samples=samples,
                        )
                    )
    finally:
        model.train(was_training)
    names = [str(path) for path in documents] or [FILLER_NAME]
    return NeedleResult(lengths=lengths, depths=depths, haystack=names, cells=cells)
