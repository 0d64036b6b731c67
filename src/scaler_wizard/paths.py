"""Where Scaler Wizard keeps its workspace: `SCALER_WIZARD_HOME`, default `~/.scaler-wizard`."""

from __future__ import annotations

import os
from pathlib import Path


def workspace_home() -> Path:
    return Path(os.environ.get("SCALER_WIZARD_HOME") or Path.home() / ".scaler-wizard").expanduser()


def runs_dir() -> Path:
    return workspace_home() / "runs"


def model_cache_dir() -> Path:
    return workspace_home() / "models"
