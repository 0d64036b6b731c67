"""Alerts on the terminal: red warnings, amber cautions, cyan advisories (cockpit colours)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from scaler_wizard.alerts.model import Alert, ClearReason

STYLE = {"warning": "bold red", "caution": "bold yellow", "advisory": "bold cyan"}
MARK = {"warning": "▲", "caution": "■", "advisory": "●"}

# A normal finish says nothing (dark cockpit); the other endings are worth a dim line.
CLEAR_NOTE: dict[ClearReason, str] = {
    "preempted": "set aside for a more urgent alert; it comes back afterwards",
    "inhibited": "silenced by a related warning",
    "acknowledged": "acknowledged",
}


class ConsoleChannel:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    def show(self, alert: Alert) -> None:
        style = STYLE[alert.priority]
        head = f"[{style}]{MARK[alert.priority]} {alert.priority.upper()}[/] {escape(alert.title)}"
        tail = f" [dim]— {escape(alert.message)}[/]" if alert.message else ""
        self.console.print(head + tail)

    def clear(self, alert: Alert, reason: ClearReason) -> None:
        note = CLEAR_NOTE.get(reason)
        if note is not None:
            self.console.print(f"  [dim]{escape(alert.title)}: {note}[/]")

    def close(self) -> None:
        pass
