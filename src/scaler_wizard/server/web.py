"""The web front end: the built app from `web/dist` when present, else a page saying so."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Scaler Wizard</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Scaler Wizard</h1>
<p>The web interface is not built in this installation. The service runs: the API is under
<code>/api</code>, described at <a href="/api/docs">/api/docs</a>.</p>
</body></html>
"""


class SinglePageApp(StaticFiles):
    """Static files; any other path that is not the API gets index.html (client routing)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith("api/") or path == "api":
                raise
            return await super().get_response("index.html", scope)


def mount_front_end(app: FastAPI, dist: Path) -> None:
    """Call last: the mount at '/' must come after every API route."""
    if (dist / "index.html").is_file():
        app.mount("/", SinglePageApp(directory=dist, html=True), name="web")
        return

    @app.get("/", include_in_schema=False)
    def not_built() -> HTMLResponse:
        return HTMLResponse(NOT_BUILT)
