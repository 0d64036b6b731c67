"""Narration into a run folder: each utterance becomes `NNNN-<lang>.wav` plus one line of
`narrations.jsonl` saying what was said, in which language, and why it fell back if it did.

The narrator speaks one utterance at a time in the order it is given; choosing *what* to say
and *when* is the alert throttle's job.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Protocol

from scaler_wizard.voice.languages import LanguageChoice, choose_language
from scaler_wizard.voice.synth import Speech, SpeechUnavailableError, find_espeak

INDEX = "narrations.jsonl"


class SpeechEngine(Protocol):
    version: tuple[int, ...]

    def has_voice(self, voice: str) -> bool: ...

    def synthesize(self, text: str, voice: str, words_per_minute: int = 165) -> Speech: ...


@dataclass(frozen=True)
class Narration:
    number: int
    label: str  # what the utterance was about, e.g. an alert id
    requested: str
    language: str  # the language of `text`
    voice: str | None  # None: text only
    text: str
    wav: str | None  # file name inside the narrator's folder
    duration_s: float
    fallback_reason: str | None


class Narrator:
    def __init__(
        self,
        out_dir: Path,
        language: str = "en",
        engine: SpeechEngine | Literal["auto"] | None = "auto",
        words_per_minute: int = 165,
    ) -> None:
        """`engine="auto"` finds espeak-ng; with no engine every narration is text only."""
        self.out_dir = out_dir
        self.language = language
        self.engine = find_espeak() if isinstance(engine, str) else engine
        self.words_per_minute = words_per_minute
        self._lock = threading.Lock()
        self._number = _last_number(out_dir / INDEX)

    def narrate(self, texts: Mapping[str, str], label: str = "") -> Narration:
        """Say the text for the best available language of `texts` (lower-case language tag →
        text); the chain and the reasons are those of `choose_language`."""
        with self._lock:
            self._number += 1
            choice = choose_language(self.language, texts.keys(), self.engine)
            text = texts.get(choice.text_language, "")
            narration = self._speak(self._number, choice, text, label)
            self._record(narration)
            return narration

    def _speak(self, number: int, choice: LanguageChoice, text: str, label: str) -> Narration:
        reason, wav, duration_s = choice.reason, None, 0.0
        if choice.voice is not None and self.engine is not None:
            try:
                speech = self.engine.synthesize(text, choice.voice, self.words_per_minute)
                wav = f"{number:04d}-{choice.text_language}.wav"
                speech.write_wav(self.out_dir / wav)
                duration_s = round(speech.duration_s, 3)
            except (SpeechUnavailableError, OSError) as error:
                reason = f"{reason + '; ' if reason else ''}synthesis failed: {error}; text only"
        voice = choice.voice if wav else None
        return Narration(
            number, label, self.language, choice.text_language, voice, text, wav, duration_s, reason
        )

    def _record(self, narration: Narration) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with (self.out_dir / INDEX).open("a", encoding="utf-8") as index:
            index.write(json.dumps(asdict(narration), ensure_ascii=False) + "\n")


def _last_number(index: Path) -> int:
    """Continue numbering after a resumed run instead of overwriting its files."""
    if not index.is_file():
        return 0
    lines = [line for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
    return int(json.loads(lines[-1])["number"]) if lines else 0


def read_narrations(out_dir: Path) -> list[Narration]:
    index = out_dir / INDEX
    if not index.is_file():
        return []
    lines = index.read_text(encoding="utf-8").splitlines()
    return [Narration(**json.loads(line)) for line in lines if line.strip()]
