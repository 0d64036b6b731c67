"""The narrator writes numbered WAVs and an index of what was said and why it fell back."""

from __future__ import annotations

from pathlib import Path

from audio_helpers import measure

from scaler_wizard.voice.narrator import Narrator, read_narrations

TEXTS = {
    "en": "Caution. A decision is waiting for you.",
    "es": "Precaución. Hay una decisión esperándote.",
    "zh": "注意。有一个决定正在等你处理。",
}


def test_numbered_wavs_in_the_requested_language(tmp_path: Path) -> None:
    narrator = Narrator(tmp_path, language="es")
    first = narrator.narrate(TEXTS, label="approval_requested-4")
    second = narrator.narrate(TEXTS)
    assert (first.wav, second.wav) == ("0001-es.wav", "0002-es.wav")
    assert (first.language, first.voice, first.fallback_reason) == ("es", "es", None)
    assert first.text == TEXTS["es"]
    audio = measure(tmp_path / "0001-es.wav")
    assert abs(audio.duration_s - first.duration_s) < 0.01 and audio.rms > 500
    assert read_narrations(tmp_path) == [first, second]


def test_mandarin_is_spoken(tmp_path: Path) -> None:
    narration = Narrator(tmp_path, language="zh-CN").narrate(TEXTS)
    assert (narration.wav, narration.voice) == ("0001-zh.wav", "cmn")
    assert measure(tmp_path / "0001-zh.wav").duration_s > 1.5


def test_a_language_without_phrases_falls_back_and_says_why(tmp_path: Path) -> None:
    narration = Narrator(tmp_path, language="pt-BR").narrate(TEXTS)
    assert (narration.wav, narration.language, narration.requested) == (
        "0001-en.wav",
        "en",
        "pt-BR",
    )
    assert narration.fallback_reason == "pt-br: no phrases; pt: no phrases; using en"


def test_a_rule_may_bring_its_own_language(tmp_path: Path) -> None:
    """Portuguese phrases are not built in, but espeak-ng has a voice for them."""
    texts = {**TEXTS, "pt": "Atenção. Há uma decisão à sua espera."}
    narration = Narrator(tmp_path, language="pt-BR").narrate(texts)
    assert (narration.wav, narration.voice) == ("0001-pt.wav", "pt")
    assert narration.fallback_reason == "pt-br: no phrases; using pt"


def test_without_an_engine_the_text_is_kept_and_nothing_is_written(tmp_path: Path) -> None:
    narration = Narrator(tmp_path, language="es", engine=None).narrate(TEXTS)
    assert (narration.wav, narration.voice, narration.text) == (None, None, TEXTS["es"])
    assert narration.fallback_reason is not None and narration.fallback_reason.endswith("text only")
    assert list(tmp_path.glob("*.wav")) == []
    assert read_narrations(tmp_path) == [narration]


def test_numbering_continues_in_a_resumed_run(tmp_path: Path) -> None:
    Narrator(tmp_path).narrate(TEXTS)
    again = Narrator(tmp_path).narrate(TEXTS)
    assert again.number == 2 and again.wav == "0002-en.wav"
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["0001-en.wav", "0002-en.wav"]
