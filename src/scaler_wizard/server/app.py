"""`create_app(settings, token)`: the FastAPI app of the local service, and `serve` to run it.

Building the app touches nothing on disk; the lifespan migrates the job database and starts
the job runner, and stopping the app stops watching jobs without stopping them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from scaler_wizard import __version__
from scaler_wizard.server.auth import issue_token
from scaler_wizard.server.deps import Services
from scaler_wizard.server.errors import ApiError
from scaler_wizard.server.limits import UploadLimit
from scaler_wizard.server.lock import WorkspaceLock
from scaler_wizard.server.routes import datasets, events, jobs, meta, models, recipes, runs
from scaler_wizard.server.settings import Settings
from scaler_wizard.server.web import mount_front_end

# Starlette's host check cannot parse bracketed IPv6 hosts; "::1" relies on the token alone.
IPV4_LOOPBACK = ("127.0.0.1", "localhost")
DESCRIPTION = (
    "Local service of Scaler Wizard: recipes, plans, datasets, jobs (each a `scaler-wizard "
    "grow` child process), approvals, live events (SSE) and artifacts. Every call but health, "
    "templates and the recipe schema needs the token `scaler-wizard serve` printed."
)


def create_app(settings: Settings, token: str) -> FastAPI:
    services = Services.build(settings, token)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        lock = WorkspaceLock(settings.server_dir / "service.lock")
        lock.acquire()
        try:
            services.store.migrate()
            services.runner.start()
            yield
            services.runner.stop()
        finally:
            lock.release()

    app = FastAPI(
        title="Scaler Wizard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        # Operation ids are the handlers' names: a generated client gets `createJob`, not
        # `create_job_api_jobs_post`.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.services = services
    _add_error_handlers(app)
    for module in (meta, recipes, models, datasets, jobs, events, runs):
        app.include_router(module.router)
    app.add_middleware(UploadLimit, max_bytes=settings.max_upload_bytes)
    if settings.allow_origins:  # closed unless asked: no CORS headers, browsers refuse
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
        )
    if settings.host in IPV4_LOOPBACK:  # a page elsewhere cannot reach us by DNS rebinding
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(IPV4_LOOPBACK))
    mount_front_end(app, settings.web_dist)
    return app


def serve(settings: Settings, announce: Callable[[str, str], None]) -> None:
    """Issue a token, tell the caller the URL and where the token is, and run until stopped."""
    import uvicorn

    token = issue_token(settings.token_file)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    announce(f"http://{host}:{settings.port}/?token={token}", str(settings.token_file))
    app = create_app(settings, token)
    # Open event streams must not hold a stopping service forever.
    uvicorn.run(app, host=settings.host, port=settings.port, timeout_graceful_shutdown=3)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        body = {"detail": str(exc.detail), "problems": []}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"path": _dotted(error.get("loc", ())), "message": error.get("msg", ""), "line": None}
            for error in exc.errors()
        ]
        return JSONResponse({"detail": "invalid request", "problems": problems}, status_code=422)


def _dotted(loc: tuple[object, ...] | list[object]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
