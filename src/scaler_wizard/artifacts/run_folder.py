"""A run's folder and its manifest, whose `status` says whether the artifact is complete."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from scaler_wizard.paths import runs_dir

Status = Literal[
    "running", "awaiting_approval", "paused", "completed", "failed", "aborted", "rolled_back"
]
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class RunFolder:
    path: Path
    # A write-nothing view: the other processes of a multi-process run see rank 0's folder
    # (to read checkpoints) but never write to it.
    read_only: bool = False

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    def read_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / MANIFEST).read_text())
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        if not self.read_only:
            write_json_atomic(self.path / MANIFEST, manifest)

    def view(self) -> RunFolder:
        """The same folder, read-only."""
        return replace(self, read_only=True)


def create_run_folder(recipe_name: str, recipe_data: dict[str, Any]) -> RunFolder:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = RunFolder(runs_dir() / f"{stamp}-{recipe_name}-{secrets.token_hex(2)}")
    folder.path.mkdir(parents=True)
    (folder.path / "recipe.yaml").write_text(yaml.safe_dump(recipe_data, sort_keys=False))
    return folder


def write_json_atomic(path: Path, data: Any) -> None:
    staging = path.with_name(f".{path.name}.partial")
    staging.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(staging, path)


def list_runs() -> list[dict[str, Any]]:
    """Every run in the workspace, newest first, with its manifest (or what is known)."""
    root = runs_dir()
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.iterdir(), reverse=True):
        if not path.is_dir():
            continue
        try:
            manifest = RunFolder(path).read_manifest()
        except (OSError, ValueError):
            manifest = {"run_id": path.name, "status": "unknown"}
        runs.append(manifest)
    return runs


def find_run(run_id: str) -> RunFolder:
    root = runs_dir()
    exact = root / run_id
    if exact.is_dir():
        return RunFolder(exact)
    matches = [p for p in root.glob(f"*{run_id}*") if p.is_dir()] if root.is_dir() else []
    if len(matches) == 1:
        return RunFolder(matches[0])
    known = ", ".join(p.name for p in matches) if matches else "none"
    raise FileNotFoundError(f"no single run matches {run_id!r} in {root} (matches: {known})")
