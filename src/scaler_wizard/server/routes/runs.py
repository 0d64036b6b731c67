"""Runs in the workspace (from jobs or the CLI): manifest, files, downloads, model card."""

from __future__ import annotations

import pathlib
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse, PlainTextResponse

from scaler_wizard.server.artifacts import FileRefusedError, list_files, resolve_file
from scaler_wizard.server.deps import ServicesDep, TokenOrQueryRequired, TokenRequired
from scaler_wizard.server.errors import ApiError
from scaler_wizard.server.routes.responses import REFUSALS
from scaler_wizard.server.runs import RUN_ID, RunNotFoundError, list_runs, read_manifest, run_path
from scaler_wizard.server.schemas import FileEntry, RunSummary
from scaler_wizard.server.settings import Settings

router = APIRouter(prefix="/api/runs", tags=["runs"], responses=REFUSALS)
RunId = Annotated[str, Path(pattern=RUN_ID.pattern, description="A run folder's name.")]


def _run(settings: Settings, run_id: str) -> pathlib.Path:
    try:
        return run_path(settings, run_id)
    except RunNotFoundError as exc:
        raise ApiError(404, str(exc)) from None


@router.get("", dependencies=[TokenRequired])
def get_runs(services: ServicesDep) -> list[RunSummary]:
    return [RunSummary(**run) for run in list_runs(services.settings)]


@router.get("/{run_id}", dependencies=[TokenRequired])
def get_run(run_id: RunId, services: ServicesDep) -> dict[str, Any]:
    """The run's manifest.json: lineage, metrics, contracts, exports."""
    manifest = read_manifest(_run(services.settings, run_id))
    if manifest is None:
        raise ApiError(404, f"run {run_id} has no readable manifest yet")
    return manifest


@router.get("/{run_id}/files", dependencies=[TokenRequired])
def get_files(run_id: RunId, services: ServicesDep) -> list[FileEntry]:
    return list_files(_run(services.settings, run_id))


@router.get(
    "/{run_id}/files/{path:path}",
    dependencies=[TokenOrQueryRequired],
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file."}},
)
def download_file(run_id: RunId, path: str, services: ServicesDep) -> FileResponse:
    """One file of the run (a path from `/files`), as an attachment."""
    try:
        found = resolve_file(_run(services.settings, run_id), path)
    except FileRefusedError as exc:
        raise ApiError(404, str(exc)) from None
    return FileResponse(found, filename=found.name)


@router.get(
    "/{run_id}/report",
    dependencies=[TokenRequired],
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {}}, "description": "The model card."}},
)
def get_report(run_id: RunId, services: ServicesDep) -> PlainTextResponse:
    """The model card (README.md): before/after results; only a completed run has one."""
    card = _run(services.settings, run_id) / "README.md"
    if not card.is_file():
        raise ApiError(404, f"run {run_id} has no model card (it is not completed)")
    return PlainTextResponse(card.read_text(encoding="utf-8"), media_type="text/markdown")
