"""The JSONL event log: the source of truth for a run, one event per line."""

from __future__ import annotations

import os
from pathlib import Path

from scaler_wizard.telemetry.events import Event

# Facts a resume, a rollback or a person relies on: forced to disk, not just to the OS cache.
DURABLE = frozenset(
    {
        "CheckpointSaved",
        "RunFinished",
        "RunFailed",
        "RunPaused",
        "RolledBack",
        "BreakerTripped",
        "ApprovalRequested",
        "ApprovalDecided",
    }
)


class JsonlSink:
    """Synchronous on purpose: the log is the source of truth, so it is never queued or dropped."""

    name = "jsonl"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def handle(self, event: Event) -> None:
        self._file.write(event.model_dump_json() + "\n")
        self._file.flush()
        if event.type in DURABLE:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def read_events(path: Path) -> list[Event]:
    return [Event.model_validate_json(line) for line in path.read_text().splitlines() if line]


def repair_event_log(path: Path) -> tuple[int, int]:
    """Drop a half-written last line (a kill during a write).

    Returns the next `seq` to use and the current `segment`, so a continued run carries on.
    """
    if not path.is_file():
        return 0, 0
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines:
        try:
            last = Event.model_validate_json(lines[-1])
            break
        except ValueError:
            lines.pop()
    else:
        path.write_text("")
        return 0, 0
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return last.seq + 1, last.segment
