"""The fallback chain: requested tag → base language → English → text only, with the reason."""

from __future__ import annotations

import pytest

from scaler_wizard.voice.languages import candidates, choose_language
from scaler_wizard.voice.phrases import LANGUAGES
from scaler_wizard.voice.synth import load_espeak


@pytest.mark.parametrize(
    ("tag", "chain"),
    [
        ("pt-BR", ["pt-br", "pt", "en"]),
        ("de_AT", ["de-at", "de", "en"]),
        ("zh-CN", ["zh", "en"]),
        ("cmn", ["zh", "en"]),
        ("zh-Hans-CN", ["zh-hans-cn", "zh", "en"]),
        ("EN-us", ["en"]),
        ("fr", ["fr", "en"]),
    ],
)
def test_candidates(tag: str, chain: list[str]) -> None:
    assert candidates(tag) == chain


@pytest.mark.parametrize(
    ("requested", "language", "voice", "reason"),
    [
        ("es", "es", "es", None),
        ("fr-CA", "fr", "fr", "fr-ca: no phrases; using fr"),
        ("de", "de", "de", None),
        ("zh-CN", "zh", "cmn", None),
        ("pt-BR", "en", "en-us", "pt-br: no phrases; pt: no phrases; using en"),
        ("xx", "en", "en-us", "xx: no phrases; using en"),
    ],
)
def test_choice_with_the_real_engine(
    requested: str, language: str, voice: str, reason: str | None
) -> None:
    choice = choose_language(requested, LANGUAGES, load_espeak())
    assert (choice.text_language, choice.voice, choice.reason) == (language, voice, reason)


class Engine:
    """An engine as the chain sees it: a version and the voices it has."""

    def __init__(self, version: tuple[int, ...], voices: set[str]) -> None:
        self.version = version
        self.voices = voices

    def has_voice(self, voice: str) -> bool:
        return voice in self.voices


ALL_VOICES = {"en-us", "es", "fr", "de", "cmn"}


@pytest.mark.parametrize(
    ("requested", "engine", "language", "voice", "reason"),
    [
        # Debian's espeak-ng 1.51 reads Mandarin tone numbers as English digits.
        (
            "zh",
            Engine((1, 51), ALL_VOICES),
            "en",
            "en-us",
            "zh: espeak-ng 1.51 is too old (needs 1.52); using en",
        ),
        (
            "de",
            Engine((1, 52), ALL_VOICES - {"de"}),
            "en",
            "en-us",
            "de: espeak-ng has no voice de; using en",
        ),
        # No engine at all: the requested language's text, silently.
        ("es", None, "es", None, "es: no speech engine; en: no speech engine; text only"),
        ("pt", None, "en", None, "pt: no phrases; en: no speech engine; text only"),
    ],
)
def test_choice_when_the_engine_falls_short(
    requested: str, engine: Engine | None, language: str, voice: str | None, reason: str
) -> None:
    choice = choose_language(requested, LANGUAGES, engine)
    assert (choice.text_language, choice.voice, choice.reason) == (language, voice, reason)
    assert choice.spoken is (voice is not None)
