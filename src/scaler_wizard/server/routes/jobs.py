"""Jobs: create (a template + overrides, or a full recipe), list, inspect, and act on them.

Every POST takes an optional `Idempotency-Key` header: a retry with the same key returns the
first response and never acts twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse

from scaler_wizard.server.deps import Services, ServicesDep, TokenRequired
from scaler_wizard.server.processes import tail
from scaler_wizard.server.recipes import build_recipe
from scaler_wizard.server.routes.responses import REFUSALS
from scaler_wizard.server.runs import read_manifest
from scaler_wizard.server.schemas import (
    JOB_ID,
    ActionResult,
    JobDetail,
    JobView,
    NoteBody,
    RecipeInput,
    RollbackBody,
)
from scaler_wizard.server.store import JobRecord

router = APIRouter(
    prefix="/api/jobs", tags=["jobs"], dependencies=[TokenRequired], responses=REFUSALS
)
JobId = Annotated[str, Path(pattern=JOB_ID, description="A job id, e.g. job-0123456789ab.")]
IdempotencyKey = Annotated[
    str | None, Header(description="Same key, same result: the action happens once.")
]
Outcome = tuple[JobRecord, str]


@router.post("", status_code=201, response_model=JobView)
def create_job(
    body: RecipeInput, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Validate the recipe (422 with field paths) and queue a run of it."""

    def act() -> tuple[int, dict[str, Any]]:
        job = services.actions.submit(build_recipe(body))
        return 201, JobView.of(job).model_dump(mode="json")

    return services.idempotency.respond(idempotency_key, "POST /api/jobs", body, act)


@router.get("")
def list_jobs(services: ServicesDep) -> list[JobView]:
    """Every job, newest first."""
    return [JobView.of(job) for job in services.store.list_jobs()]


@router.get("/{job_id}")
def get_job(job_id: JobId, services: ServicesDep) -> JobDetail:
    """The job, what its run's manifest says, and the end of its stderr."""
    job = services.actions.job(job_id)
    folder = services.settings.runs_dir / job.run_id if job.run_id else None
    manifest = (read_manifest(folder) if folder else None) or {}
    return JobDetail(
        **JobView.of(job).model_dump(),
        run_status=manifest.get("status"),
        awaiting=manifest.get("awaiting"),
        error=manifest.get("error"),
        metrics=manifest.get("metrics", {}),
        stderr_tail=tail(services.runner.log_dir(job.id) / "stderr.log"),
    )


def _act(
    services: Services, request_id: str, key: str | None, body: Any, action: Callable[[], Outcome]
) -> JSONResponse:
    def act() -> tuple[int, dict[str, Any]]:
        job, message = action()
        return 200, ActionResult(job=JobView.of(job), message=message).model_dump(mode="json")

    return services.idempotency.respond(key, request_id, body, act)


@router.post("/{job_id}/cancel", response_model=ActionResult)
def cancel_job(
    job_id: JobId, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Queued: dropped. Running: SIGTERM, so the run checkpoints and pauses (resumable)."""
    request_id = f"cancel {job_id}"
    return _act(
        services, request_id, idempotency_key, None, lambda: services.actions.cancel(job_id)
    )


def _noted(
    services: Services,
    job_id: str,
    body: NoteBody | None,
    key: str | None,
    verb: str,
    act: Callable[[str, str], Outcome],
) -> JSONResponse:
    """An action that takes the request's note (abort, approve, deny)."""
    note = body.note if body else ""
    return _act(services, f"{verb} {job_id}", key, note, lambda: act(job_id, note))


@router.post("/{job_id}/abort", response_model=ActionResult)
def abort_job(
    job_id: JobId,
    services: ServicesDep,
    body: NoteBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Stop for good: deny a waiting gate, stop a running job, or close a paused one."""
    return _noted(services, job_id, body, idempotency_key, "abort", services.actions.abort)


@router.post("/{job_id}/approve", response_model=ActionResult)
def approve_job(
    job_id: JobId,
    services: ServicesDep,
    body: NoteBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Let a job waiting at an approval gate continue."""
    return _noted(services, job_id, body, idempotency_key, "approve", services.actions.approve)


@router.post("/{job_id}/deny", response_model=ActionResult)
def deny_job(
    job_id: JobId,
    services: ServicesDep,
    body: NoteBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Stop a job waiting at an approval gate; nothing is exported."""
    return _noted(services, job_id, body, idempotency_key, "deny", services.actions.deny)


@router.post("/{job_id}/rollback", response_model=ActionResult)
def rollback_job(
    job_id: JobId,
    services: ServicesDep,
    body: RollbackBody | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Back to a checkpoint (default: the newest); later work is set aside, not deleted."""
    options = body or RollbackBody()
    return _act(
        services,
        f"rollback {job_id}",
        idempotency_key,
        options.model_dump(),
        lambda: services.actions.rollback(job_id, options.to, options.resume),
    )


@router.post("/{job_id}/resume", response_model=ActionResult)
def resume_job(
    job_id: JobId, services: ServicesDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Queue a paused, failed, lost or rolled-back job to continue from its checkpoint."""
    return _act(
        services, f"resume {job_id}", idempotency_key, None, lambda: services.actions.resume(job_id)
    )
