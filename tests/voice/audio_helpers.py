"""Measure WAV audio without extra dependencies: duration and loudness."""

from __future__ import annotations

import io
import math
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Audio:
    channels: int
    sample_width: int
    sample_rate: int
    duration_s: float
    rms: float  # of signed 16-bit samples; silence is 0, espeak-ng speech is in the thousands
    peak: int


def measure(wav: bytes | Path) -> Audio:
    data = wav.read_bytes() if isinstance(wav, Path) else wav
    with wave.open(io.BytesIO(data)) as audio:
        frames = audio.readframes(audio.getnframes())
        channels, width, rate = audio.getnchannels(), audio.getsampwidth(), audio.getframerate()
    samples = array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    peak = max((abs(s) for s in samples), default=0)
    return Audio(channels, width, rate, len(samples) / rate, rms, peak)
