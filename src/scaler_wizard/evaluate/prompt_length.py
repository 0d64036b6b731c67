"""Fit a synthetic prompt to a token budget by searching over its filler's character count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LENGTH_TOLERANCE = 0.01  # a prompt may fall short of the target length by at most 1%


def count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens the model will see: the same call (special tokens included) as at generation."""
    return len(tokenizer(text)["input_ids"])


def fit_filler_chars(
    tokenizer: Any,
    render: Callable[[int], str],
    target_tokens: int,
    chars_per_token: float,
    what: str = "prompt",
) -> tuple[int, int]:
    """(filler chars, tokens): `render(chars)` has at most `target_tokens`, at least 1% fewer.

    Never longer than the target, so a test "at the context window" stays inside it.
    Token count grows monotonically (up to a token at the cut) with filler characters, so a
    binary search finds the length in about log2(chars) tokenizations instead of YaRN's
    128-character linear walk, which would tokenize the prompt ~1000 times at 32k tokens.
    `chars_per_token` (the filler's density) only seeds the search.
    """
    tolerance = max(1, int(target_tokens * LENGTH_TOLERANCE))

    def tokens_at(chars: int) -> int:
        return count_tokens(tokenizer, render(chars))

    def close(tokens: int) -> bool:
        return target_tokens - tolerance <= tokens <= target_tokens

    low, low_tokens = 0, tokens_at(0)
    if low_tokens > target_tokens:
        raise ValueError(f"{target_tokens} tokens is shorter than the bare {what} ({low_tokens})")
    # Gallop up from a linear estimate until the target is bracketed.
    high = max(1, int((target_tokens - tolerance / 2 - low_tokens) * chars_per_token))
    high_tokens = tokens_at(high)
    while high_tokens <= target_tokens and not close(low_tokens):
        low, low_tokens = high, high_tokens
        high, high_tokens = 2 * high, tokens_at(2 * high)
    # Invariant: low_tokens <= target < high_tokens; stop once `low` is long enough.
    while high - low > 1 and not close(low_tokens):
        middle = (low + high) // 2
        middle_tokens = tokens_at(middle)
        if middle_tokens <= target_tokens:
            low, low_tokens = middle, middle_tokens
        else:
            high, high_tokens = middle, middle_tokens
    if not close(low_tokens):
        raise ValueError(f"cannot build a {what} of {target_tokens} - {tolerance} tokens")
    return low, low_tokens
