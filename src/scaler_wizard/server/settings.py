"""Service settings and the workspace paths derived from them."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, Field

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MIB = 2**20


def default_web_dist() -> Path:
    """Where a packaged build of the web front end lives (absent until it is built)."""
    return Path(__file__).resolve().parents[1] / "web" / "dist"


class Settings(BaseModel):
    """Everything the service needs to know; the CLI's `serve` options fill it."""

    workspace: Path = Field(description="SCALER_WIZARD_HOME: runs/, models/, server/, uploads/.")
    host: str = Field("127.0.0.1", description="Interface to bind; loopback unless asked.")
    port: int = Field(8765, ge=0, le=65535)
    allow_origins: list[str] = Field(
        default_factory=list, description="CORS allow-list; empty: no cross-origin access."
    )
    max_upload_bytes: int = Field(512 * MIB, ge=1, description="Largest dataset upload.")
    heartbeat_s: float = Field(15.0, gt=0, description="SSE comment line when nothing happens.")
    poll_s: float = Field(0.2, gt=0, description="How often jobs and event logs are checked.")
    plan_timeout_s: float = Field(900.0, gt=0, description="Longest `plan` subprocess.")
    python: str = Field(sys.executable, description="Interpreter that runs job subprocesses.")
    web_dist: Path = Field(default_factory=default_web_dist)

    @property
    def server_dir(self) -> Path:
        return self.workspace / "server"

    @property
    def database(self) -> Path:
        return self.server_dir / "jobs.sqlite3"

    @property
    def token_file(self) -> Path:
        return self.server_dir / "token"

    @property
    def jobs_dir(self) -> Path:
        return self.server_dir / "jobs"

    @property
    def hardware_cache(self) -> Path:
        return self.server_dir / "hardware.json"

    @property
    def uploads_dir(self) -> Path:
        return self.workspace / "uploads"

    @property
    def runs_dir(self) -> Path:
        return self.workspace / "runs"
