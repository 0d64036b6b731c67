"""The live event stream of a job (Server-Sent Events)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from scaler_wizard.server.deps import ServicesDep, TokenOrQueryRequired
from scaler_wizard.server.events_stream import job_events
from scaler_wizard.server.routes.jobs import JobId
from scaler_wizard.server.routes.responses import REFUSALS

router = APIRouter(prefix="/api/jobs", tags=["events"], dependencies=[TokenOrQueryRequired])
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "SSE messages."}
}


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={**REFUSALS, **SSE_RESPONSE},
)
def stream_events(
    job_id: JobId,
    services: ServicesDep,
    last_event_id: Annotated[
        int | None, Header(description="Sent by EventSource on reconnect: replay after it.")
    ] = None,
    after: Annotated[
        int | None, Query(ge=-1, description="Replay events with seq > after (first connect).")
    ] = None,
) -> StreamingResponse:
    """Each run event as an SSE message (`id:` = seq, `data:` = the event JSON), from the
    start or after `Last-Event-ID`; heartbeats while idle; an `end` message (the job) last.

    EventSource cannot set headers: pass the token as `?token=`.
    """
    services.actions.job(job_id)  # 404 before the stream starts
    start = last_event_id if last_event_id is not None else after
    return StreamingResponse(
        job_events(services.settings, services.store, job_id, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
