"""Built-in labeling functions: cheap, readable heuristics for instruction data.

Each one abstains unless it has a clear opinion, so it can be combined with others without
drowning them; those that can also say "keep" give the label model agreements to learn from.
Thresholds are fixed on purpose: write your own function (see docs/data.md) to change one.
"""

from __future__ import annotations

import re

from scaler_wizard.data.formats import Example
from scaler_wizard.data.labeling.functions import (
    ABSTAIN,
    DROP,
    KEEP,
    LabelFunction,
    Vote,
    answer_of,
    question_of,
)
from scaler_wizard.data.transforms.filters import repetition_ratio, script_of

_REFUSAL = re.compile(
    r"\bI(?:'m| am) (?:sorry|afraid|unable|not able)\b"
    r"|\bI (?:can(?:no|')t|won't|will not|am not allowed to) (?:help|assist|provide|do|"
    r"comply|answer|fulfil|fulfill)"
    r"|\b(?:cannot|can't) (?:help|assist) with (?:that|this)\b",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"\bas an AI(?: language model| assistant)?\b|\bI(?:'m| am) (?:just )?an AI\b"
    r"|\bmy (?:knowledge cutoff|training data)\b|\bI hope this helps\b"
    r"|\bfeel free to ask\b|\blet me know if you have any (?:other|more|further) questions\b",
    re.IGNORECASE,
)
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<![\w.])(?:\+?\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w.])")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


def refusal(example: Example) -> Vote:
    """The answer refuses ("I'm sorry, but I can't help with that")."""
    return DROP if _REFUSAL.search(answer_of(example)) else ABSTAIN


def boilerplate(example: Example) -> Vote:
    """Canned assistant phrases ("As an AI language model", "I hope this helps")."""
    return DROP if _BOILERPLATE.search(answer_of(example)) else ABSTAIN


def short_answer(example: Example) -> Vote:
    """An answer far shorter than its question drops; one at least as long as it keeps."""
    question, answer = question_of(example).split(), answer_of(example).split()
    if not question:
        return ABSTAIN
    if (len(answer) < 3 and len(question) >= 9) or len(answer) * 8 < len(question):
        return DROP
    if len(answer) >= max(20, len(question)):
        return KEEP
    return ABSTAIN


def _dominant_script(text: str, min_letters: int = 20) -> str | None:
    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha():
            name = script_of(char)
            counts[name] = counts.get(name, 0) + 1
    if sum(counts.values()) < min_letters:
        return None  # too little text to call its language
    return max(counts, key=counts.__getitem__)


def language_mismatch(example: Example) -> Vote:
    """Question and answer written mostly in different scripts drop; the same script keeps."""
    asked, answered = _dominant_script(question_of(example)), _dominant_script(answer_of(example))
    if asked is None or answered is None:
        return ABSTAIN
    return KEEP if asked == answered else DROP


def code_blocks(example: Example) -> Vote:
    """An odd number of ``` fences (a code block never closed) drops; balanced blocks keep."""
    fences = len(_FENCE.findall(answer_of(example)))
    if fences == 0:
        return ABSTAIN
    return DROP if fences % 2 else KEEP


def repeated_ngrams(example: Example) -> Vote:
    """An answer looping on itself (many repeated word 3-grams) drops; a varied one keeps."""
    words = answer_of(example).lower().split()
    if len(words) < 20:
        return ABSTAIN
    ratio = repetition_ratio(words, 3)
    if ratio > 0.3:
        return DROP
    return KEEP if ratio < 0.05 else ABSTAIN


def link_spam(example: Example) -> Vote:
    """Three or more links, or more than one link per 20 words."""
    text = answer_of(example)
    links = len(_URL.findall(text))
    return DROP if links >= 3 or links * 20 > max(len(text.split()), 20) else ABSTAIN


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def pii(example: Example) -> Vote:
    """E-mail addresses, phone numbers, US social security numbers or card numbers that pass
    the Luhn check, anywhere in the record."""
    text = "\n".join((question_of(example), answer_of(example)))
    if _EMAIL.search(text) or _PHONE.search(text) or _SSN.search(text):
        return DROP
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return DROP
    return ABSTAIN


BUILT_IN_FUNCTIONS: dict[str, LabelFunction] = {
    "refusal": refusal,
    "boilerplate": boilerplate,
    "short_answer": short_answer,
    "language_mismatch": language_mismatch,
    "code_blocks": code_blocks,
    "repeated_ngrams": repeated_ngrams,
    "link_spam": link_spam,
    "pii": pii,
}
