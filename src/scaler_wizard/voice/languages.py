"""Which language to speak: requested tag → its base language → English → text only.

A language is usable when phrases exist for it *and* the engine really speaks it. The choice is
pure: the engine is seen only through `VoiceEngine`, so the chain is table-tested without audio.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

FALLBACK = "en"

# Phrase language → espeak-ng voice where the names differ (Mandarin is `cmn` in espeak-ng).
VOICES: dict[str, str] = {"en": "en-us", "es": "es", "fr": "fr", "de": "de", "zh": "cmn"}

# espeak-ng 1.51 reads Mandarin pinyin tone numbers as English digits; 1.52 speaks it.
MIN_VERSION: dict[str, tuple[int, ...]] = {"zh": (1, 52)}

# Other names people use for a language we have phrases for.
ALIASES: dict[str, str] = {"cmn": "zh", "zh-hans": "zh", "zh-cn": "zh", "en-us": "en"}


class VoiceEngine(Protocol):
    version: tuple[int, ...]

    def has_voice(self, voice: str) -> bool: ...


@dataclass(frozen=True)
class LanguageChoice:
    requested: str
    text_language: str  # the language of the phrase text
    voice: str | None  # the espeak-ng voice, None when only text can be given
    reason: str | None  # why the requested language was not the one spoken; None if it was

    @property
    def spoken(self) -> bool:
        return self.voice is not None


def normalise(tag: str) -> str:
    tag = tag.strip().replace("_", "-").lower()
    return ALIASES.get(tag, tag)


def candidates(tag: str) -> list[str]:
    """`pt-BR` → [`pt-br`, `pt`, `en`]; each tag once, English last."""
    parts = normalise(tag).split("-")
    chain = [normalise("-".join(parts[:n])) for n in range(len(parts), 0, -1)]
    chain.append(FALLBACK)
    return list(dict.fromkeys(c for c in chain if c))


def voice_for(language: str) -> str:
    """The espeak-ng voice for a language; a tag we do not map is tried as a voice name."""
    return VOICES.get(language, language)


def voice_problem(language: str, engine: VoiceEngine | None) -> str | None:
    """Why `language` cannot be spoken, or None when it can."""
    if engine is None:
        return "no speech engine"
    voice = voice_for(language)
    need = MIN_VERSION.get(language)
    if need is not None and engine.version < need:
        have = ".".join(map(str, engine.version))
        return f"espeak-ng {have} is too old (needs {'.'.join(map(str, need))})"
    if not engine.has_voice(voice):
        return f"espeak-ng has no voice {voice}"
    return None


def choose_language(
    requested: str, phrase_languages: Collection[str], engine: VoiceEngine | None
) -> LanguageChoice:
    notes: list[str] = []
    first_text: str | None = None
    for language in candidates(requested):
        if language not in phrase_languages:
            notes.append(f"{language}: no phrases")
            continue
        first_text = first_text or language
        problem = voice_problem(language, engine)
        if problem is None:
            reason = "; ".join([*notes, f"using {language}"]) if notes else None
            return LanguageChoice(requested, language, voice_for(language), reason)
        notes.append(f"{language}: {problem}")
    return LanguageChoice(requested, first_text or FALLBACK, None, "; ".join([*notes, "text only"]))
