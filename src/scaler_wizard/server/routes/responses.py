"""OpenAPI descriptions of the error bodies routes may answer with."""

from __future__ import annotations

from typing import Any

from scaler_wizard.server.schemas import ErrorBody

REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong token."},
    409: {"model": ErrorBody, "description": "Not possible in the job's current state."},
    422: {"model": ErrorBody, "description": "Invalid input; `problems` name the fields."},
}
