"""Alerts spoken aloud, offline. Only the throttle's active alert is narrated, in the order the
throttle shows them; an alert that lost its turn (pre-empted, silenced, acknowledged) before
its narration was rendered is not spoken late over the alert that replaced it (a pre-empted
one is queued again when it comes back).
"""

from __future__ import annotations

from collections.abc import Mapping

from scaler_wizard.alerts.delivery.worker import Worker
from scaler_wizard.alerts.model import Alert, ClearReason, at_least
from scaler_wizard.alerts.speech import spoken_texts
from scaler_wizard.telemetry.events import AlertPriority
from scaler_wizard.voice.narrator import Narration, Narrator


class VoiceChannel:
    def __init__(
        self,
        narrator: Narrator,
        *,
        min_priority: AlertPriority = "caution",
        phrases: Mapping[str, Mapping[str, str]] | None = None,
        start: bool = True,
    ) -> None:
        self.narrator = narrator
        self.min_priority = min_priority
        self.phrases = dict(phrases or {})
        self.worker = Worker("alerts-voice", max_pending=20, start=start)
        self.narrations: list[Narration] = []

    def show(self, alert: Alert) -> None:
        if at_least(alert.priority, self.min_priority):
            texts = spoken_texts(alert, self.phrases.get(alert.rule))
            self.worker.submit(alert.id, lambda: self._say(alert, texts))

    def clear(self, alert: Alert, reason: ClearReason) -> None:
        # A finished alert was heard out; at the end of the run the last words still matter.
        if reason in ("preempted", "inhibited", "acknowledged"):
            self.worker.cancel(alert.id)

    def close(self) -> None:
        self.worker.close()

    def _say(self, alert: Alert, texts: Mapping[str, str]) -> None:
        self.narrations.append(self.narrator.narrate(texts, label=alert.id))
