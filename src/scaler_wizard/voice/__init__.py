"""Offline voice narration: hand-translated phrases, a language fallback chain, espeak-ng."""

from scaler_wizard.voice.languages import LanguageChoice, choose_language
from scaler_wizard.voice.narrator import Narration, Narrator, read_narrations
from scaler_wizard.voice.synth import (
    Espeak,
    Speech,
    SpeechUnavailableError,
    find_espeak,
    load_espeak,
)

__all__ = [
    "Espeak",
    "LanguageChoice",
    "Narration",
    "Narrator",
    "Speech",
    "SpeechUnavailableError",
    "choose_language",
    "find_espeak",
    "load_espeak",
    "read_narrations",
]
