"""Filters: length in tokens, empty turns, regex keep/drop, Unicode script, quality heuristics."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scaler_wizard.data.formats import Example
from scaler_wizard.data.transforms.base import (
    Role,
    TransformContext,
    TransformOutput,
    example_text,
    keep_where,
)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LengthOptions(Options):
    min_tokens: int | None = Field(None, ge=1, description="Drop records shorter than this.")
    max_tokens: int | None = Field(None, ge=1, description="Drop records longer than this.")

    @model_validator(mode="after")
    def _some_bound(self) -> LengthOptions:
        if self.min_tokens is None and self.max_tokens is None:
            raise ValueError("give min_tokens, max_tokens or both")
        if self.min_tokens and self.max_tokens and self.min_tokens > self.max_tokens:
            raise ValueError("min_tokens is larger than max_tokens")
        return self


def length(
    examples: Sequence[Example], options: LengthOptions, context: TransformContext
) -> TransformOutput:
    """Token count of the whole record as trained (chat template included), before truncation."""

    def reason(example: Example) -> str | None:
        tokens = context.count_tokens(example)
        if options.min_tokens is not None and tokens < options.min_tokens:
            return f"shorter than {options.min_tokens} tokens"
        if options.max_tokens is not None and tokens > options.max_tokens:
            return f"longer than {options.max_tokens} tokens"
        return None

    return keep_where(examples, reason)


class DropEmptyOptions(Options):
    role: Role = Field("all", description="Which turns to look at (plain text: all of it).")


def drop_empty(
    examples: Sequence[Example], options: DropEmptyOptions, context: TransformContext
) -> TransformOutput:
    """Records whose text is blank, or that hold a blank turn of the chosen role."""

    def reason(example: Example) -> str | None:
        if not example_text(example, options.role).strip():
            return "empty"
        turns = example.messages or ()
        if any(options.role in ("all", m.role) and not m.content.strip() for m in turns):
            return "empty turn"
        return None

    return keep_where(examples, reason)


class RegexOptions(Options):
    pattern: str = Field(description="Python regular expression, searched anywhere in the text.")
    action: Literal["keep", "drop"] = Field("drop", description="Keep or drop matching records.")
    role: Role = Field("all", description="Which turns to search (plain text: all of it).")
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


def regex(
    examples: Sequence[Example], options: RegexOptions, context: TransformContext
) -> TransformOutput:
    compiled = re.compile(options.pattern, re.IGNORECASE if options.ignore_case else 0)

    def reason(example: Example) -> str | None:
        found = compiled.search(example_text(example, options.role)) is not None
        if options.action == "drop":
            return f"matched {options.pattern!r}" if found else None
        return None if found else f"did not match {options.pattern!r}"

    return keep_where(examples, reason)


SCRIPT_ALIASES = {"HAN": "CJK", "CHINESE": "CJK", "KANJI": "CJK"}


class ScriptOptions(Options):
    scripts: list[str] = Field(
        default_factory=lambda: ["Latin"],
        min_length=1,
        description="Unicode scripts to keep, e.g. Latin, Cyrillic, Greek, Han, Arabic.",
    )
    min_ratio: float = Field(0.8, gt=0, le=1, description="Share of letters in those scripts.")
    role: Role = "all"


@lru_cache(maxsize=4096)
def script_of(char: str) -> str:
    """First word of the character's Unicode name: LATIN, CYRILLIC, CJK, HIRAGANA..."""
    return unicodedata.name(char, "UNKNOWN").split(" ")[0]


def script(
    examples: Sequence[Example], options: ScriptOptions, context: TransformContext
) -> TransformOutput:
    """Keep records whose letters are mostly in the given scripts; no letters: nothing to judge."""
    wanted = {SCRIPT_ALIASES.get(s.upper(), s.upper()) for s in options.scripts}

    def reason(example: Example) -> str | None:
        counts: dict[str, int] = {}
        for char in example_text(example, options.role):
            if char.isalpha():
                name = script_of(char)
                counts[name] = counts.get(name, 0) + 1
        letters = sum(counts.values())
        if not letters or sum(counts.get(s, 0) for s in wanted) / letters >= options.min_ratio:
            return None
        dominant = max(counts, key=counts.__getitem__)
        if dominant in wanted:  # mixed text: the wanted script leads but not by enough
            return f"{'/'.join(options.scripts)} below {options.min_ratio:g}"
        return f"mostly {'Han' if dominant == 'CJK' else dominant.title()} script"

    return keep_where(examples, reason)


class QualityOptions(Options):
    ngram: int = Field(3, ge=1, description="Word n-gram size for the repetition ratio.")
    max_repetition: float = Field(
        0.3, ge=0, le=1, description="Drop above this share of repeated word n-grams."
    )
    max_symbol_ratio: float = Field(
        0.3, ge=0, le=1, description="Drop above this share of non-alphanumeric characters."
    )
    min_words: int = Field(
        10, ge=1, description="Shorter texts skip the repetition test (too few n-grams)."
    )
    role: Role = "all"


def repetition_ratio(words: Sequence[str], n: int) -> float:
    """Share of word n-grams that repeat an earlier one: 0 for all distinct, near 1 for loops."""
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def symbol_ratio(text: str) -> float:
    """Share of non-space characters that are neither letters nor digits."""
    visible = [c for c in text if not c.isspace()]
    return sum(1 for c in visible if not c.isalnum()) / len(visible) if visible else 0.0


def quality(
    examples: Sequence[Example], options: QualityOptions, context: TransformContext
) -> TransformOutput:
    def reason(example: Example) -> str | None:
        text = example_text(example, options.role)
        words = text.lower().split()
        repeated = repetition_ratio(words, options.ngram) if len(words) >= options.min_words else 0
        if repeated > options.max_repetition:
            return f"repetition above {options.max_repetition:g}"
        if symbol_ratio(text) > options.max_symbol_ratio:
            return f"symbols above {options.max_symbol_ratio:g}"
        return None

    return keep_where(examples, reason)
