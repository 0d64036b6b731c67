"""Every language's phrases are really spoken by the bundled espeak-ng: real audio of a
plausible length and loudness, read with that language's own rules (no switch to English)."""

from __future__ import annotations

import re

import pytest
from audio_helpers import measure

from scaler_wizard.voice.languages import VOICES
from scaler_wizard.voice.phrases import LANGUAGES, PHRASES, VOCABULARY, spoken_value
from scaler_wizard.voice.synth import Espeak, load_espeak

HANZI = re.compile(r"[\u4e00-\u9fff]")
# Characters per second of speech at 165 words per minute: wide bounds, but a wrong voice (one
# spelling out letters or reading "Chinese letter" per character) or silence falls outside.
RATE = {"zh": (1.5, 6.0)}
ALPHABETIC = (6.0, 25.0)
# Fields outside the vocabulary: a number, and the title English speaks for a custom rule.
OPEN_FIELDS = {"count": "4", "title": "Disk space is low"}


@pytest.fixture(scope="module")
def engine() -> Espeak:
    return load_espeak()


def sentences(language: str, every_value: bool = True) -> list[str]:
    """Each phrase with each value its fields can take (so every translated word is read), or
    with the first value only."""
    words = VOCABULARY[language]
    out: list[str] = []
    for template in PHRASES[language].values():
        variants: list[dict[str, str]] = [{}]
        for field in re.findall(r"\{(\w+)\}", template):
            options = list(words[field]) if field in words else [OPEN_FIELDS[field]]
            options = options if every_value else options[:1]
            variants = [{**v, field: option} for v in variants for option in options]
        out.extend(say(language, template, values) for values in variants)
    return out


def say(language: str, template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: spoken_value(language, m[1], values[m[1]]), template)


def test_the_bundled_engine_is_recent_enough_for_mandarin(engine: Espeak) -> None:
    assert engine.version >= (1, 52), engine.version_text
    assert engine.sample_rate == 22050


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_phrase_is_read_with_the_languages_own_rules(engine: Espeak, language: str) -> None:
    voice = VOICES[language]
    for sentence in sentences(language):
        phonemes = engine.phonemes(sentence, voice)
        assert "(" not in phonemes, f"{sentence!r} switched language: {phonemes}"
        if language == "zh":  # one toned syllable per character: Mandarin, not spelled out
            assert len(re.findall(r"\d{2,3}", phonemes)) >= len(HANZI.findall(sentence))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_phrase_synthesises_to_audible_speech_of_plausible_length(
    engine: Espeak, language: str
) -> None:
    low, high = RATE.get(language, ALPHABETIC)
    for sentence in sentences(language, every_value=False):
        audio = measure(engine.synthesize(sentence, VOICES[language]).wav_bytes())
        assert (audio.channels, audio.sample_width, audio.sample_rate) == (1, 2, 22050)
        letters = len(HANZI.findall(sentence)) if language == "zh" else len(sentence)
        assert 0.5 < audio.duration_s < 15.0, sentence
        assert low <= letters / audio.duration_s <= high, (sentence, audio.duration_s)
        assert audio.rms > 500 and audio.peak > 5000, (sentence, audio)


def test_the_measurements_tell_silence_from_speech(engine: Espeak) -> None:
    silent = measure(engine.synthesize("", "en-us").wav_bytes())
    assert silent.duration_s < 0.2 and silent.rms < 500


def test_a_faster_rate_gives_shorter_audio(engine: Espeak) -> None:
    text = PHRASES["de"]["run_finished"].format(priority="Hinweis")
    slow = engine.synthesize(text, "de", words_per_minute=120).duration_s
    fast = engine.synthesize(text, "de", words_per_minute=300).duration_s
    assert fast < slow * 0.7
