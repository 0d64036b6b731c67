"""Run folders seen from the service: ids checked against a pattern and resolved under the
workspace's `runs/`, manifests read leniently, and the run a job started found by its name."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaler_wizard.server.settings import Settings

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
# create_run_folder names folders `<UTC stamp>-<recipe name>-<4 hex>`.
RUN_NAME = re.compile(r"^(\d{8}-\d{6})-(.+)-[0-9a-f]{4}$")
STAMP = "%Y%m%d-%H%M%S"


class RunNotFoundError(LookupError):
    """No run folder with that id in the workspace (or the id is not a run id at all)."""


def run_path(settings: Settings, run_id: str) -> Path:
    """The run's folder; the id never reaches the filesystem unless it is one plain name."""
    if not RUN_ID.fullmatch(run_id) or set(run_id) == {"."}:
        raise RunNotFoundError(f"not a run id: {run_id!r}")
    root = settings.runs_dir.resolve()
    path = (root / run_id).resolve()
    if path.parent != root or not path.is_dir():
        raise RunNotFoundError(f"no run {run_id!r} in {root}")
    return path


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest, or None while it is missing or being replaced."""
    try:
        data = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every run in the workspace, newest first, whoever started it (service or CLI)."""
    root = settings.runs_dir
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.iterdir(), reverse=True):
        if not path.is_dir() or not RUN_ID.fullmatch(path.name):
            continue
        manifest = read_manifest(path) or {}
        runs.append(
            {
                "run_id": path.name,
                "status": str(manifest.get("status", "unknown")),
                "recipe_name": manifest.get("recipe_name"),
                "created": manifest.get("created"),
            }
        )
    return runs


def find_new_run(
    settings: Settings, recipe_name: str, started: str, claimed: set[str]
) -> str | None:
    """The run folder a job's process created: named after its recipe, stamped no earlier
    than the job started (to the second), and not already another job's. Earliest wins."""
    root = settings.runs_dir
    if not root.is_dir():
        return None
    since = datetime.fromisoformat(started).astimezone(UTC).replace(microsecond=0, tzinfo=None)
    candidates = []
    for path in root.iterdir():
        match = RUN_NAME.fullmatch(path.name)
        if not match or match.group(2) != recipe_name or path.name in claimed:
            continue
        if datetime.strptime(match.group(1), STAMP) >= since and path.is_dir():
            candidates.append(path.name)
    return min(candidates) if candidates else None


def latest_checkpoint(folder: Path) -> str | None:
    """Newest whole checkpoint (`checkpoints/step-NNNNNN`, see docs/artifacts.md), if any."""
    found = sorted(p.name for p in (folder / "checkpoints").glob("step-*") if p.is_dir())
    return found[-1] if found else None
