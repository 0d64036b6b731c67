"""Phase bookkeeping: timing, start/finish events, and errors that say which phase failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import Phase, PhaseFinished, PhaseStarted


class PhaseFailed(RuntimeError):  # noqa: N818 - reads as the event it mirrors
    def __init__(self, phase: str, error: BaseException) -> None:
        self.phase, self.error = phase, error
        super().__init__(f"{phase}: {error}")


class ContractError(RuntimeError):
    """The grown model broke a promise in the recipe's contracts; nothing is exported."""


@contextmanager
def phase(bus: EventBus, name: Phase, description: str = "") -> Iterator[dict[str, Any]]:
    """Run a phase; the yielded dict becomes the phase summary in the event log."""
    summary: dict[str, Any] = {}
    bus.emit(PhaseStarted(phase=name, description=description))
    started = time.perf_counter()
    try:
        yield summary
    except PhaseFailed:
        raise
    except Exception as exc:
        raise PhaseFailed(name, exc) from exc
    bus.emit(PhaseFinished(phase=name, duration_s=time.perf_counter() - started, summary=summary))
