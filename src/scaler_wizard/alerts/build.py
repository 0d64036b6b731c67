"""Assemble an AlertSink from the alert settings: rules, throttle and the chosen channels."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from scaler_wizard.alerts.delivery import Channel
from scaler_wizard.alerts.delivery.console import ConsoleChannel
from scaler_wizard.alerts.delivery.voice import VoiceChannel
from scaler_wizard.alerts.delivery.webhook import WebhookChannel
from scaler_wizard.alerts.engine import AlertSink
from scaler_wizard.alerts.rules import RuleBook
from scaler_wizard.recipe.alerts import AlertsSpec
from scaler_wizard.telemetry.events import Payload
from scaler_wizard.voice.narrator import Narrator
from scaler_wizard.voice.synth import INSTALL_HINT

VOICE_DIR = Path("alerts") / "voice"


def build_alert_sink(
    spec: AlertsSpec,
    emit: Callable[[Payload], object],
    *,
    run_dir: Path | None = None,
    console: Console | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AlertSink:
    """`emit` is usually `bus.emit`; voice narration needs `run_dir` for its WAV files."""
    rules = RuleBook(spec.rules, defaults=spec.default_rules)
    channels: list[Channel] = []
    if spec.console:
        channels.append(ConsoleChannel(console))
    channels.extend(WebhookChannel(webhook) for webhook in spec.webhooks)
    if spec.voice.enabled:
        if run_dir is None:
            raise ValueError("voice narration needs a run folder for its WAV files")
        narrator = Narrator(
            run_dir / VOICE_DIR, spec.voice.language, words_per_minute=spec.voice.words_per_minute
        )
        if narrator.engine is None and console is not None:
            console.print(f"[yellow]voice: espeak-ng not found, text only ({INSTALL_HINT})[/]")
        channels.append(
            VoiceChannel(narrator, min_priority=spec.voice.min_priority, phrases=rules.phrases())
        )
    return AlertSink(emit, rules=rules, channels=channels, throttle=spec.throttle, clock=clock)
