"""Refuse an oversized upload from its Content-Length, before its body is read at all.

Bodies without a length (chunked) are still counted while they are saved (uploads.py).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

UPLOAD_PATH = "/api/datasets"
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the file


class UploadLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == UPLOAD_PATH:
            length = dict(scope["headers"]).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.max_bytes + MULTIPART_OVERHEAD_BYTES:
                body = {
                    "detail": f"upload larger than the limit of {self.max_bytes} bytes",
                    "problems": [],
                }
                await JSONResponse(body, status_code=413)(scope, receive, send)
                return
        await self.app(scope, receive, send)
