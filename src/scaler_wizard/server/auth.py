"""The service token: random at each start, stored owner-only, checked in constant time."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TOKEN_BYTES = 32


def issue_token(path: Path) -> str:
    """A fresh token written to `path` with 0600 permissions (never readable by others)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    staging.unlink(missing_ok=True)
    # Created 0600 from the start, so there is no moment when another user could read it.
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(token + "\n")
    os.replace(staging, path)
    return token


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_matches(expected: str, given: str | None) -> bool:
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())
