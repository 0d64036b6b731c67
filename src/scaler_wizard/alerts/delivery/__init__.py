"""Delivery channels: where the throttle's decisions go besides the event bus."""

from __future__ import annotations

from typing import Protocol

from scaler_wizard.alerts.model import Alert, ClearReason


class Channel(Protocol):
    def show(self, alert: Alert) -> None:
        """`alert` became the active one (also when it comes back after a pre-emption)."""

    def clear(self, alert: Alert, reason: ClearReason) -> None:
        """`alert` stopped being the active one."""

    def close(self) -> None: ...
