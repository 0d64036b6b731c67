"""Offline speech: espeak-ng's C library through ctypes, text → 16-bit mono PCM → WAV.

The library comes from the `espeakng-loader` wheel (libespeak-ng 1.52 with its voice data, so
`pip install` is enough) or, failing that, from the system (Debian `libespeak-ng1`). Nothing
here touches the network. espeak-ng keeps global state, so one engine per process is shared
behind a lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import io
import re
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

_SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: samples come back through the callback
_DONT_EXIT = 0x8000  # espeakINITIALIZE_DONT_EXIT: report errors instead of exiting the process
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1  # espeakRATE, words per minute
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

INSTALL_HINT = "pip install espeakng-loader (bundles espeak-ng) or apt-get install espeak-ng"


class SpeechUnavailableError(RuntimeError):
    """No usable espeak-ng library; the message says why and how to install one."""


@dataclass(frozen=True)
class Speech:
    """Synthesised audio: signed 16-bit little-endian mono samples."""

    pcm: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate

    def wav_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(self.sample_rate)
            out.writeframes(self.pcm)
        return buffer.getvalue()

    def write_wav(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.wav_bytes())
        return path


@dataclass(frozen=True)
class LibrarySource:
    library: str
    data_dir: str | None  # None: the library's compiled-in default (a system install)
    origin: str


def locate_library() -> LibrarySource | None:
    """The bundled wheel first (same version everywhere), then the system library."""
    try:
        loader = importlib.import_module("espeakng_loader")
        library, data = str(loader.get_library_path()), str(loader.get_data_path())
        if Path(library).is_file():
            return LibrarySource(library, data, "espeakng-loader")
    except (ImportError, RuntimeError):
        pass
    system = ctypes.util.find_library("espeak-ng")
    return LibrarySource(system, None, "system") if system else None


class Espeak:
    """One initialised espeak-ng library in synchronous mode."""

    def __init__(self, source: LibrarySource) -> None:
        try:
            self._lib = ctypes.CDLL(source.library)
        except OSError as error:
            raise SpeechUnavailableError(f"cannot load {source.library}: {error}") from error
        self.source = source
        self._declare()
        data = source.data_dir.encode() if source.data_dir else None
        self.sample_rate = int(self._lib.espeak_Initialize(_SYNCHRONOUS, 0, data, _DONT_EXIT))
        if self.sample_rate <= 0:
            raise SpeechUnavailableError(
                f"espeak-ng failed to initialise (data: {source.data_dir})"
            )
        self.version_text = self._lib.espeak_Info(None).decode()
        self.version = parse_version(self.version_text)
        self._chunks: list[bytes] = []
        self._callback = _CALLBACK(self._collect)  # kept alive: the library holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()
        self._voices: dict[str, bool] = {}

    def _declare(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        ]

    def _collect(
        self, samples: ctypes._Pointer[ctypes.c_short], count: int, _events: int | None
    ) -> int:
        if samples and count > 0:
            self._chunks.append(ctypes.string_at(samples, count * 2))
        return 0  # 0 = keep going

    def has_voice(self, voice: str) -> bool:
        with self._lock:
            if voice not in self._voices:
                self._voices[voice] = self._lib.espeak_SetVoiceByName(voice.encode()) == 0
            return self._voices[voice]

    def synthesize(self, text: str, voice: str, words_per_minute: int = 165) -> Speech:
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            self._select(voice)
            self._lib.espeak_SetParameter(_PARAM_RATE, words_per_minute, 0)
            self._chunks = []
            error = self._lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            pcm, self._chunks = b"".join(self._chunks), []
        if error != 0:
            raise SpeechUnavailableError(f"espeak-ng could not synthesise with voice {voice!r}")
        return Speech(pcm, self.sample_rate)

    def phonemes(self, text: str, voice: str) -> str:
        """espeak-ng's phoneme mnemonics; `(xx)` marks a switch to another language's rules."""
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        cursor = ctypes.c_void_p(ctypes.addressof(buffer))
        parts: list[str] = []
        with self._lock:
            self._select(voice)
            while cursor.value:
                chunk = self._lib.espeak_TextToPhonemes(ctypes.byref(cursor), _CHARS_UTF8, 0)
                parts.append(chunk.decode("utf-8") if chunk else "")
        return " ".join(parts)

    def _select(self, voice: str) -> None:
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise SpeechUnavailableError(f"espeak-ng has no voice {voice!r}")


def parse_version(text: str) -> tuple[int, ...]:
    match = re.match(r"(\d+(?:\.\d+)*)", text.strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


_ENGINE: Espeak | None = None
_ENGINE_LOCK = threading.Lock()


def load_espeak() -> Espeak:
    """The process-wide engine; raises SpeechUnavailableError with an install hint."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            source = locate_library()
            if source is None:
                raise SpeechUnavailableError(f"espeak-ng not found: {INSTALL_HINT}")
            _ENGINE = Espeak(source)
        return _ENGINE


def find_espeak() -> Espeak | None:
    try:
        return load_espeak()
    except SpeechUnavailableError:
        return None
