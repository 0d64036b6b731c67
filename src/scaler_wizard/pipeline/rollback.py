"""`scaler-wizard rollback RUN [--to CHECKPOINT]`: go back to a checkpoint, keeping the lineage.

Checkpoints after the chosen one, and exports made from them, move to `abandoned/<time>/` in
the run folder (nothing is deleted); the run becomes `rolled_back`, and `grow --resume`
continues from the chosen checkpoint in a new event segment.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaler_wizard.artifacts.run_folder import RunFolder, find_run
from scaler_wizard.telemetry.bus import EventBus
from scaler_wizard.telemetry.events import RolledBack
from scaler_wizard.telemetry.jsonl_sink import JsonlSink, repair_event_log
from scaler_wizard.train.checkpoint import CHECKPOINT_PREFIX, checkpoint_step

EXPORTS = ("model", "adapter", "gguf", "README.md", "plots", "eval")


class RollbackError(ValueError):
    """A rollback that cannot be done; the message says why."""


def rollback_run(run_id: str, to: str | None = None) -> tuple[RunFolder, str, Path]:
    """Roll back to checkpoint `to` (default: the newest); returns run, checkpoint, aside folder."""
    run = find_run(run_id)
    manifest = run.read_manifest()
    if manifest.get("status") == "awaiting_approval":
        raise RollbackError(f"run {run.run_id} is waiting for approval; deny it first")
    checkpoints = sorted(p for p in run.checkpoints.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir())
    if not checkpoints:
        raise RollbackError(f"run {run.run_id} has no checkpoint to roll back to")
    names = [p.name for p in checkpoints]
    target = to or names[-1]
    if target not in names:
        raise RollbackError(f"no checkpoint {target!r} in run {run.run_id}; checkpoints: {names}")
    aside = run.path / "abandoned" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    moved = [p for p in checkpoints if p.name > target]
    moved += [run.path / name for name in EXPORTS if (run.path / name).exists()]
    for path in moved:
        destination = aside / ("checkpoints" if path.parent == run.checkpoints else "") / path.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), destination)
    _record(run, manifest, target, aside)
    return run, target, aside


def _record(run: RunFolder, manifest: dict[str, Any], target: str, aside: Path) -> None:
    stale: dict[str, Any] = {k: manifest.pop(k) for k in ("exports", "contracts") if k in manifest}
    grown = manifest.get("metrics", {}).pop("grown", None)
    if grown is not None:
        stale["grown_metrics"] = grown
    manifest.setdefault("rollbacks", []).append(
        {
            "to": target,
            "set_aside": str(aside),
            "from_status": manifest.get("status"),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "replaced": stale,
        }
    )
    manifest.update(status="rolled_back")
    run.write_manifest(manifest)
    next_seq, segment = repair_event_log(run.events)
    bus = EventBus(run.run_id, [JsonlSink(run.events)], first_seq=next_seq)
    bus.segment = segment + 1  # `step` may go back from here on
    bus.step = checkpoint_step(target)  # the step training continues from
    bus.emit(RolledBack(checkpoint=target, set_aside=str(aside)))
    bus.close()
